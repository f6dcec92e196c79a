// The local environment: every component a process on 127.0.0.1, started by
// the suite and stopped by pid (procs.ts), logs in test/e2e/.work/<run>/.
//
//   etcd, kube-apiserver ........ ../controlplane (binaries cached in ~/.cache/mcm-grpc-driver)
//   fake-cloud .................. ../fake-cloud/main.ts (all clouds' stateful fakes + admin API)
//   prism-<cloud> ............... prism proxy <spec> <fake> --errors, per cloud
//   per stack (target, notarget):
//     sidecar-<stack> ........... src/cli/main.ts serve on unix://<run>/<stack>/driver.sock
//     machine-controller-<stack>  the bridge (bridge/bin/machine-controller, built here)
//     mcm-core-<stack> .......... machine-controller-manager (target stack only)
import { existsSync, mkdirSync, readdirSync, realpathSync, rmSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { ensureBinaries, freePorts, startControlPlane, tailFile, type ControlPlane } from '../controlplane/controlplane.js';
import type { CloudDescriptor } from '../clouds/types.js';
import { ORPHAN_SWEEP_PERIOD, REPO_ROOT, STACKS, WORK_ROOT, type Environment, type StackName } from './env.js';
import { FakeCloudClient, waitForAdmin } from './fake-cloud-client.js';
import { ensureNamespace, KubeClient } from './kube.js';
import { ProcessGroup, reapStaleRuns, type Proc } from './procs.js';
import { sleep } from './wait.js';

export const BRIDGE_BIN = path.join(REPO_ROOT, 'bridge', 'bin', 'machine-controller');
const PRISM_ENTRY = path.join(REPO_ROOT, 'node_modules', '.bin', 'prism');
const ORPHAN_GUARD = path.join(REPO_ROOT, 'test', 'e2e', 'lib', 'orphan-guard.cjs');
const KEEP_RUNS = 3;

/** Fake VM timing: long enough for the kill-mid-create window, short enough for a quick suite. */
const FAKE_TIMING = { activeAfterMs: 1500, deleteAfterMs: 1000 };

interface StackProcs {
  sidecarArgs: string[];
  sidecarEnv: NodeJS.ProcessEnv;
  sidecarHttp: string;
  sidecar?: Proc;
  bridgeArgs: string[];
  bridge?: Proc;
  coreArgs?: string[];
  core?: Proc;
}

export class LocalEnvironment implements Environment {
  readonly name = 'local' as const;
  readonly nodeHeartbeats = false;
  readonly runDir: string;
  private procs: ProcessGroup;
  private cp?: ControlPlane;
  private kubeClient?: KubeClient;
  private adminUrl = '';
  private readonly stacks = new Map<StackName, StackProcs>();
  private fakeCloud?: Proc;
  private cloudApiUrls: Record<string, string> = {};

  constructor() {
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
    this.runDir = path.join(WORK_ROOT, `run-${stamp}-${process.pid}`);
    mkdirSync(this.runDir, { recursive: true });
    this.procs = new ProcessGroup(this.runDir);
  }

  get kubeconfig(): string {
    if (!this.cp) throw new Error('environment not set up');
    return this.cp.kubeconfig;
  }

  hostEndpoints(): { apiserverUrl: string; cloudApiUrls: Record<string, string> } {
    if (!this.cp) throw new Error('environment not set up');
    return { apiserverUrl: this.cp.apiserverUrl, cloudApiUrls: { ...this.cloudApiUrls } };
  }

  get kube(): KubeClient {
    if (!this.kubeClient) throw new Error('environment not set up');
    return this.kubeClient;
  }

  async setup(clouds: CloudDescriptor[]): Promise<void> {
    const reaped = reapStaleRuns(WORK_ROOT, this.runDir);
    if (reaped.length > 0) progress(`killed leftovers of an earlier, killed run: ${reaped.join(', ')}`);
    pruneOldRuns(this.runDir);

    const t0 = performance.now();
    await Promise.all([ensureBinaries(), this.buildBridge()]);
    progress(`binaries ready (${secs(t0)})`);

    this.cp = await startControlPlane({ workDir: path.join(this.runDir, 'controlplane'), readyTimeoutMs: 240_000 });
    this.procs.adoptChildren(this.cp.workDir);
    this.kubeClient = new KubeClient(this.cp.kubeconfig);
    // The target needs kube-system for MCM's bootstrap-token Secrets (the apiserver usually makes it, but not instantly).
    for (const ns of ['kube-system', 'kube-node-lease', STACKS.target.namespace, STACKS.notarget.namespace]) {
      await ensureNamespace(this.kube, ns);
    }
    progress(`control plane ready at ${this.cp.apiserverUrl} (${secs(t0)})`);

    // Fake clouds + Prism.
    const ports = await freePorts(1 + 2 * clouds.length + 6);
    const adminPort = ports.shift()!;
    this.adminUrl = `http://127.0.0.1:${adminPort}`;
    const cloudPorts = clouds.map((c) => ({ cloud: c, fake: ports.shift()!, prism: ports.shift()! }));
    this.fakeCloud = this.procs.start({
      name: 'fake-cloud',
      cmd: process.execPath,
      args: [
        '--import',
        'tsx',
        path.join(REPO_ROOT, 'test', 'e2e', 'fake-cloud', 'main.ts'),
        ...cloudPorts.flatMap((c) => ['--cloud', `${c.cloud.id}=${c.fake}`]),
        '--admin-listen',
        `127.0.0.1:${adminPort}`,
        '--active-after-ms',
        String(FAKE_TIMING.activeAfterMs),
        '--delete-after-ms',
        String(FAKE_TIMING.deleteAfterMs),
        '--run-dir',
        this.runDir,
      ],
      cwd: REPO_ROOT,
    });
    const fakeProc = this.fakeCloud;
    await waitForAdmin(this.adminUrl, 60_000, () => (fakeProc.running() ? undefined : `exited:\n${tailFile(fakeProc.log)}`));

    const apiUrls: Record<string, string> = {};
    await Promise.all(
      cloudPorts.map(async ({ cloud, fake, prism }) => {
        const fakeUrl = `http://127.0.0.1:${fake}`;
        if (!cloud.specFile) {
          apiUrls[cloud.id] = fakeUrl;
          return;
        }
        const spec = path.resolve(REPO_ROOT, cloud.specFile);
        const p = this.startPrism(cloud.id, spec, fakeUrl, prism);
        await waitForHttp(`http://127.0.0.1:${prism}/__prism_ready`, 60_000, p, () => true);
        apiUrls[cloud.id] = `http://127.0.0.1:${prism}`;
      }),
    );
    progress(`fake clouds + Prism ready: ${JSON.stringify(apiUrls)} (${secs(t0)})`);
    this.cloudApiUrls = apiUrls;

    // The two MCM stacks.
    const sidecarEnv: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'debug' };
    for (const c of clouds) Object.assign(sidecarEnv, c.sidecarEnv(apiUrls[c.id]!));
    for (const stack of Object.values(STACKS)) {
      const dir = path.join(this.runDir, stack.name);
      mkdirSync(dir, { recursive: true });
      const socket = `unix://${path.join(dir, 'driver.sock')}`;
      const [sidecarHttpPort, bridgePort, corePort] = ports.splice(0, 3) as [number, number, number];
      const kc = this.kubeconfig;
      const s: StackProcs = {
        sidecarHttp: `http://127.0.0.1:${sidecarHttpPort}`,
        sidecarEnv,
        sidecarArgs: [
          '--require',
          ORPHAN_GUARD,
          '--import',
          'tsx',
          path.join(REPO_ROOT, 'src', 'cli', 'main.ts'),
          'serve',
          `--listen=${socket}`,
          `--http-listen=127.0.0.1:${sidecarHttpPort}`,
          '--poll-interval=200ms',
          '--create-timeout=90s',
          '--delete-timeout=90s',
          '--shutdown-grace=5s',
          '--log-level=debug',
        ],
        bridgeArgs: [
          `--control-kubeconfig=${kc}`,
          `--target-kubeconfig=${stack.hasTarget ? kc : 'none'}`,
          `--namespace=${stack.namespace}`,
          `--driver-endpoint=${socket}`,
          '--driver-call-timeout=2m',
          `--machine-safety-orphan-vms-period=${ORPHAN_SWEEP_PERIOD}`,
          '--machine-creation-timeout=20m',
          '--machine-health-timeout=10m',
          '--machine-drain-timeout=5m',
          '--leader-elect=false',
          '--address=127.0.0.1',
          `--port=${bridgePort}`,
          '--v=3',
        ],
        coreArgs: stack.hasTarget
          ? [
              `--control-kubeconfig=${kc}`,
              `--target-kubeconfig=${kc}`,
              `--namespace=${stack.namespace}`,
              '--safety-up=2',
              '--safety-down=1',
              '--machine-safety-overshooting-period=1m',
              '--leader-elect=false',
              '--address=127.0.0.1',
              `--port=${corePort}`,
              '--v=3',
            ]
          : undefined,
      };
      this.stacks.set(stack.name, s);
      s.sidecar = this.startSidecar(stack.name);
      s.bridge = this.procs.start({ name: `machine-controller-${stack.name}`, cmd: BRIDGE_BIN, args: s.bridgeArgs });
      if (s.coreArgs) {
        s.core = this.procs.start({ name: `mcm-core-${stack.name}`, cmd: path.join(this.cp.binDir, 'machine-controller-manager'), args: s.coreArgs });
      }
    }
    for (const [name, s] of this.stacks) {
      await waitForHttp(`${s.sidecarHttp}/readyz`, 60_000, s.sidecar!);
      await waitForHttp(`http://127.0.0.1:${portOf(s.bridgeArgs)}/healthz`, 60_000, s.bridge!);
      if (s.core) await waitForHttp(`http://127.0.0.1:${portOf(s.coreArgs!)}/healthz`, 60_000, s.core);
      progress(`stack ${name} (${STACKS[name].namespace}) ready (${secs(t0)})`);
    }
  }

  fake(cloudId: string): FakeCloudClient {
    return new FakeCloudClient(this.adminUrl, cloudId);
  }

  async killSidecar(stack: StackName): Promise<void> {
    const s = this.stackProcs(stack);
    if (s.sidecar) await this.procs.kill(s.sidecar);
  }

  async restartSidecar(stack: StackName): Promise<void> {
    const s = this.stackProcs(stack);
    s.sidecar = this.startSidecar(stack);
    await waitForHttp(`${s.sidecarHttp}/readyz`, 60_000, s.sidecar);
  }

  async diagnostics(): Promise<string> {
    const api = this.cp ? `--- kube-apiserver ${this.cp.workDir}/kube-apiserver.log:\n${tailFile(path.join(this.cp.workDir, 'kube-apiserver.log'), 10)}\n` : '';
    return `${api}${this.procs.tails(40)}\n(all logs: ${this.runDir})`;
  }

  async describe(): Promise<Record<string, string[]>> {
    const out: Record<string, string[]> = {};
    for (const [name, s] of this.stacks) {
      if (s.coreArgs) out[`machine-controller-manager (${name})`] = s.coreArgs;
      out[`machine-controller bridge (${name})`] = s.bridgeArgs;
      out[`sidecar (${name})`] = s.sidecarArgs.slice(s.sidecarArgs.indexOf('serve'));
    }
    return out;
  }

  async teardown(): Promise<void> {
    await this.procs.stopAll();
    await this.cp?.stop();
    this.kubeClient?.close();
  }

  // ---------------------------------------------------------------------------

  private stackProcs(stack: StackName): StackProcs {
    const s = this.stacks.get(stack);
    if (!s) throw new Error(`no stack ${stack}`);
    return s;
  }

  private startSidecar(stack: StackName): Proc {
    const s = this.stackProcs(stack);
    return this.procs.start({ name: `sidecar-${stack}`, cmd: process.execPath, args: s.sidecarArgs, env: s.sidecarEnv, cwd: REPO_ROOT });
  }

  private startPrism(cloudId: string, spec: string, upstream: string, port: number): Proc {
    // Same guard as the sidecar's; the comment names the run dir so a later run can reap it by pid.
    const script = [
      `// mcm-grpc-driver e2e run ${this.runDir}`,
      'const parent = process.ppid;',
      'setInterval(() => { if (process.ppid !== parent) process.exit(0); }, 1000).unref();',
      'require(process.argv[1]);',
    ].join('\n');
    return this.procs.start({
      name: `prism-${cloudId}`,
      cmd: process.execPath,
      args: ['-e', script, realpathSync(PRISM_ENTRY), 'proxy', spec, upstream, '--errors', '-h', '127.0.0.1', '-p', String(port)],
      env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
      cwd: REPO_ROOT,
    });
  }

  /** `go build` of the bridge: incremental, a few seconds when Go's build cache is warm. */
  private async buildBridge(): Promise<void> {
    const log = path.join(this.runDir, 'build-bridge.log');
    const t0 = performance.now();
    const cp = this.procs.start({
      name: 'build-bridge',
      cmd: 'go',
      args: ['build', '-o', BRIDGE_BIN, './cmd/machine-controller'],
      cwd: path.join(REPO_ROOT, 'bridge'),
      env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=readonly' },
      log,
    });
    const result = await cp.exited;
    if (result !== 'exit code 0') throw new Error(`go build of the bridge failed (${result}):\n${tailFile(log, 30)}`);
    progress(`bridge built (${secs(t0)})`);
  }
}

function portOf(args: string[]): string {
  return args.find((a) => a.startsWith('--port='))!.slice('--port='.length);
}

async function waitForHttp(url: string, timeoutMs: number, proc: Proc, ok: (status: number) => boolean = (s) => s === 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!proc.running()) throw new Error(`${proc.name} exited (${await proc.exited}) before ${url} answered; ${proc.log}:\n${tailFile(proc.log, 40)}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (ok(res.status)) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`${url} (${proc.name}) not ready within ${timeoutMs} ms; ${proc.log}:\n${tailFile(proc.log, 40)}`);
    await sleep(250);
  }
}

/** Keep the newest KEEP_RUNS run directories (their logs are what a failure is debugged from). */
function pruneOldRuns(current: string): void {
  if (!existsSync(WORK_ROOT)) return;
  const runs = readdirSync(WORK_ROOT)
    .filter((d) => d.startsWith('run-'))
    .map((d) => path.join(WORK_ROOT, d))
    .filter((d) => d !== current)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  for (const old of runs.slice(KEEP_RUNS - 1)) rmSync(old, { recursive: true, force: true });
}

export function progress(msg: string): void {
  process.stderr.write(`[e2e ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

const secs = (t0: number): string => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
