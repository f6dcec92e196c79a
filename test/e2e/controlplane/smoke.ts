// Smoke check of the local control plane (not part of `npm test`):
//
//   npx tsx test/e2e/controlplane/smoke.ts [--with-mcm] [--mcm-seconds=15] [--keep]
//
// Builds (or reuses) the binaries, starts etcd + kube-apiserver, checks MCM's
// CRDs are served, round-trips a Secret + MachineClass + Machine with kubectl,
// optionally runs MCM's core `machine-controller-manager` against it (and checks
// a MachineDeployment is turned into a MachineSet and a Machine), then stops
// everything and verifies that no process it started is left.

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { ensureBinaries, freePorts, kubectl, startControlPlane, tailFile, type ControlPlane } from './controlplane.js';

const args = process.argv.slice(2);
const withMcm = args.includes('--with-mcm');
const keep = args.includes('--keep');
const mcmSeconds = Number(args.find((a) => a.startsWith('--mcm-seconds='))?.split('=')[1] ?? '15');

const t = (): number => performance.now();
const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
function check(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(`CHECK FAILED: ${msg}`);
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** pids of processes whose command line mentions `needle` (the run dir is in every flag list we pass). */
function pidsMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.includes(needle)) out.push(Number(d));
    } catch {
      /* raced with exit */
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const OBJECTS = `apiVersion: v1
kind: Secret
metadata:
  name: smoke-secret
  namespace: default
type: Opaque
stringData:
  userData: "#cloud-config\\n"
  token: not-a-real-token
---
apiVersion: machine.sapcloud.io/v1alpha1
kind: MachineClass
metadata:
  name: smoke-class
  namespace: default
provider: grpc
providerSpec:
  region: local-1
  flavor: small
secretRef:
  name: smoke-secret
  namespace: default
credentialsSecretRef:
  name: smoke-secret
  namespace: default
---
apiVersion: machine.sapcloud.io/v1alpha1
kind: Machine
metadata:
  name: smoke-machine
  namespace: default
spec:
  class:
    kind: MachineClass
    name: smoke-class
`;

const DEPLOYMENT = `apiVersion: machine.sapcloud.io/v1alpha1
kind: MachineDeployment
metadata:
  name: smoke-md
  namespace: default
spec:
  replicas: 1
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  selector:
    matchLabels:
      smoke: md
  template:
    metadata:
      labels:
        smoke: md
    spec:
      class:
        kind: MachineClass
        name: smoke-class
`;

async function getJson(kc: string, what: string[]): Promise<any> {
  return JSON.parse(await kubectl(kc, ['get', ...what, '-o', 'json']));
}

async function runMcm(cp: ControlPlane): Promise<void> {
  const [port] = (await freePorts(1)) as [number];
  const log = path.join(cp.workDir, 'machine-controller-manager.log');
  const fd = openSync(log, 'a');
  const t0 = t();
  const mcm: ChildProcess = spawn(
    path.join(cp.binDir, 'machine-controller-manager'),
    [
      `--control-kubeconfig=${cp.kubeconfig}`,
      `--target-kubeconfig=${cp.kubeconfig}`,
      '--namespace=default',
      '--leader-elect=false',
      `--port=${port}`,
      '--address=127.0.0.1',
      '--safety-up=2',
      '--safety-down=1',
      '--v=3',
    ],
    { stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  console.log(`machine-controller-manager pid ${mcm.pid}, port ${port}, log ${log}`);
  try {
    await kubectl(cp.kubeconfig, ['apply', '-f', '-'], DEPLOYMENT);
    const deadline = Date.now() + mcmSeconds * 1000;
    let healthz = 0;
    let ms = 0;
    let machines: string[] = [];
    while (Date.now() < deadline) {
      check(mcm.exitCode === null && mcm.signalCode === null, `MCM exited early (code ${mcm.exitCode}):\n${tailFile(log)}`);
      healthz = await new Promise<number>((resolve) => {
        http.get(`http://127.0.0.1:${port}/healthz`, (r) => (r.resume(), resolve(r.statusCode ?? 0))).on('error', () => resolve(0));
      });
      ms = (await getJson(cp.kubeconfig, ['machinesets.machine.sapcloud.io', '-l', 'smoke=md'])).items.length;
      machines = (await getJson(cp.kubeconfig, ['machines.machine.sapcloud.io', '-l', 'smoke=md'])).items.map(
        (m: any) => m.metadata.name as string,
      );
      await sleep(1000);
    }
    const text = readFileSync(log, 'utf8');
    const fatal = text.split('\n').filter((l) => /^F\d{4} /.test(l) || /panic:/.test(l));
    console.log(`MCM after ${secs(t() - t0)}: /healthz=${healthz}, MachineSets=${ms}, Machines=${JSON.stringify(machines)}`);
    check(mcm.exitCode === null, `MCM is not running:\n${tailFile(log)}`);
    check(fatal.length === 0, `MCM log has fatal lines:\n${fatal.join('\n')}`);
    check(text.includes('Starting machine-controller-manager'), `MCM never logged "Starting machine-controller-manager":\n${tailFile(log)}`);
    check(healthz === 200, `MCM /healthz returned ${healthz}`);
    check(ms === 1 && machines.length === 1, 'MCM did not turn the MachineDeployment into 1 MachineSet + 1 Machine');
    const errors = text.split('\n').filter((l) => /^E\d{4} /.test(l));
    console.log(`MCM log: ${text.split('\n').length} lines, ${errors.length} error lines${errors.length ? ':\n  ' + errors.slice(0, 5).join('\n  ') : ''}`);
  } finally {
    if (mcm.exitCode === null && mcm.signalCode === null) {
      const exited = new Promise((r) => mcm.once('exit', r));
      mcm.kill('SIGTERM');
      const timer = setTimeout(() => mcm.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  }
}

async function main(): Promise<void> {
  const t0 = t();
  const { binDir } = await ensureBinaries();
  const tBuild = t() - t0;
  console.log(`binaries: ${binDir} (build check ${secs(tBuild)})`);

  const t1 = t();
  const cp = await startControlPlane({ keep });
  const tStart = t() - t1;
  console.log(`control plane ready at ${cp.apiserverUrl} with CRDs established (start ${secs(tStart)}); workDir ${cp.workDir}`);
  const pidsBefore = pidsMentioning(cp.workDir);
  let failed: unknown;
  try {
    const t2 = t();
    const version = JSON.parse(await kubectl(cp.kubeconfig, ['get', '--raw', '/version']));
    console.log(`server version: ${version.gitVersion}`);
    const resources = (await kubectl(cp.kubeconfig, ['api-resources', '--api-group=machine.sapcloud.io', '-o', 'name']))
      .trim()
      .split('\n')
      .sort();
    console.log(`machine.sapcloud.io resources: ${resources.join(', ')}`);
    check(resources.length === 4, 'expected 4 machine.sapcloud.io resources');
    const empty = await getJson(cp.kubeconfig, ['machines.machine.sapcloud.io']);
    check(Array.isArray(empty.items) && empty.items.length === 0, 'machines list should be empty');

    await kubectl(cp.kubeconfig, ['apply', '-f', '-'], OBJECTS);
    const mc = await getJson(cp.kubeconfig, ['machineclasses.machine.sapcloud.io', 'smoke-class']);
    const m = await getJson(cp.kubeconfig, ['machines.machine.sapcloud.io', 'smoke-machine']);
    const s = await getJson(cp.kubeconfig, ['secret', 'smoke-secret']);
    check(mc.providerSpec?.region === 'local-1' && mc.secretRef?.name === 'smoke-secret', 'MachineClass round trip');
    check(m.spec?.class?.name === 'smoke-class' && m.spec?.class?.kind === 'MachineClass', 'Machine round trip');
    check(Buffer.from(s.data.token, 'base64').toString() === 'not-a-real-token', 'Secret round trip');
    const listed = await kubectl(cp.kubeconfig, ['get', 'machines.machine.sapcloud.io']);
    console.log(listed.trim());
    console.log(`objects round-tripped (${secs(t() - t2)})`);

    if (withMcm) await runMcm(cp);
  } catch (err) {
    failed = err;
    for (const f of ['kube-apiserver.log', 'machine-controller-manager.log']) {
      console.error(`--- ${f} (tail):\n${tailFile(path.join(cp.workDir, f), 25)}`);
    }
  } finally {
    const t3 = t();
    await cp.stop();
    console.log(`stopped (${secs(t() - t3)})`);
  }
  const left = pidsBefore.filter(alive).concat(pidsMentioning(cp.workDir));
  check(left.length === 0, `processes left behind: ${left.join(', ')}`);
  console.log(`no process left (started pids: ${pidsBefore.join(', ')})`);
  if (failed) throw failed;
  console.log(`SMOKE OK: build check ${secs(tBuild)}, start ${secs(tStart)}, total ${secs(t() - t0)}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
