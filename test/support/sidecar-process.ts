// `mcm-driver serve` as a real child process (node --import tsx src/cli/main.ts serve) against the
// three stateful fakes, for tests that kill, SIGTERM or measure the process: crash recovery,
// shutdown under load, RSS. The fakes run in the test process; endpoints reach the sidecar through
// its environment exactly as in a pod.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DriverServiceClient } from '../../src/server/driver-client.js';
import { packageRoot } from '../../src/support/package-root.js';
import { startCloudSigmaFake, type CloudSigmaFake, type CloudSigmaFakeOptions } from '../fakes/cloudsigma/index.js';
import { startStackitFake, type StackitFake, type StackitFakeOptions } from '../fakes/stackit/index.js';
import { startVpsieFake, type VpsieFake, type VpsieFakeOptions } from '../fakes/vpsie/index.js';
import { BASE_SPEC as CS_SPEC, LOCATION, ALICE } from './cloudsigma-harness.js';
import type { CloudName } from './cloud-kits.js';
import { BASE_SPEC as ST_SPEC, PROJECT_ID as ST_PROJECT, STATIC_TOKEN } from './stackit-harness.js';
import { BASE_SPEC as VP_SPEC, ACCOUNT_PASSWORD, API_TOKEN } from './vpsie-harness.js';

export const NAMESPACE = 'shoot--garden--alpha';
export const CLASS_NAME = 'alpha-worker-z1';

export interface Fakes {
  stackit: StackitFake;
  cloudsigma: CloudSigmaFake;
  vpsie: VpsieFake;
}

export async function startFakes(o: { stackit?: StackitFakeOptions; cloudsigma?: CloudSigmaFakeOptions; vpsie?: VpsieFakeOptions } = {}): Promise<Fakes> {
  const [stackit, cloudsigma, vpsie] = await Promise.all([
    startStackitFake({ activeAfterMs: 100, deleteAfterMs: 100, ...o.stackit }),
    startCloudSigmaFake({ cloneAfterMs: 100, runningAfterMs: 100, stoppedAfterMs: 100, ...o.cloudsigma }),
    startVpsieFake(o.vpsie),
  ]);
  return { stackit, cloudsigma, vpsie };
}

export async function closeFakes(f: Fakes | undefined): Promise<void> {
  if (!f) return;
  await Promise.all([f.stackit.close(), f.cloudsigma.close(), f.vpsie.close()]);
}

/** The Secret of each cloud as MCM merges it; `extra` adds or replaces keys (e.g. canaries). */
export function secretOf(fakes: Fakes, cloud: CloudName, extra: Record<string, string> = {}): Record<string, Buffer> {
  const plain: Record<CloudName, Record<string, string>> = {
    stackit: { 'project-id': ST_PROJECT, token: STATIC_TOKEN, userData: '#cloud-config\n' },
    cloudsigma: { location: LOCATION, username: ALICE, password: fakes.cloudsigma.user(ALICE).password!, userData: '#cloud-config\n' },
    vpsie: { 'api-token': API_TOKEN, 'account-password': ACCOUNT_PASSWORD, userData: '#cloud-config\n' },
  };
  return Object.fromEntries(Object.entries({ ...plain[cloud], ...extra }).map(([k, v]) => [k, Buffer.from(v)]));
}

const PROVIDER: Record<CloudName, string> = { stackit: 'STACKIT', cloudsigma: 'CloudSigma', vpsie: 'VPSie' };
const SPEC: Record<CloudName, object> = { stackit: ST_SPEC, cloudsigma: CS_SPEC, vpsie: VP_SPEC };

export function classOf(cloud: CloudName, name = CLASS_NAME, namespace = NAMESPACE): Buffer {
  return Buffer.from(JSON.stringify({ metadata: { name, namespace }, provider: PROVIDER[cloud], providerSpec: SPEC[cloud] }));
}

export function machineOf(name: string, providerID = '', lastKnownState = ''): Buffer {
  return Buffer.from(
    JSON.stringify({ metadata: { name, namespace: NAMESPACE }, spec: { providerID, class: { kind: 'MachineClass', name: CLASS_NAME } }, status: lastKnownState ? { lastKnownState } : {} }),
  );
}

/** Live VMs of a Machine (any phase but deleting) in a fake. */
export function vmsOf(fakes: Fakes, cloud: CloudName, machine: string): string[] {
  switch (cloud) {
    case 'stackit':
      return fakes.stackit.servers().filter((s) => s.status !== 'DELETING' && s.labels['kubernetes.io/machine'] === machine).map((s) => s.id);
    case 'cloudsigma':
      return fakes.cloudsigma.servers().filter((s) => s.meta['kubernetes.io/machine'] === machine).map((s) => s.uuid);
    case 'vpsie':
      return fakes.vpsie.vms().filter((v) => v.phase !== 'deleting' && v.hostname === machine).map((v) => v.identifier);
  }
}

/** Volumes, drives, scripts that belong to no live VM. */
export function leaksOf(fakes: Fakes, cloud: CloudName): string[] {
  switch (cloud) {
    case 'stackit': {
      const live = new Set(fakes.stackit.servers().map((s) => s.id));
      return fakes.stackit.volumes().filter((v) => !v.serverId || !live.has(v.serverId)).map((v) => `volume ${v.id}`);
    }
    case 'cloudsigma':
      return fakes.cloudsigma.drives().filter((d) => d.owner !== null && d.mounted_on.length === 0).map((d) => `drive ${d.name}`);
    case 'vpsie': {
      const hosts = new Set(fakes.vpsie.vms().filter((v) => v.phase !== 'deleting').map((v) => v.hostname));
      return fakes.vpsie.scripts().filter((s) => !hosts.has(s.script_name.replace(/\.sh$/, ''))).map((s) => `script ${s.script_name}`);
    }
  }
}

export interface SidecarProcess {
  proc: ChildProcess;
  pid: number;
  grpc: string;
  http: string;
  client: DriverServiceClient;
  /** Every stderr/stdout line so far. */
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resident set size in MiB, from /proc (Linux). */
  rssMiB(): number;
  close(): Promise<void>;
}

export async function startSidecarProcess(fakes: Fakes, args: string[] = [], env: Record<string, string> = {}): Promise<SidecarProcess> {
  const proc = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(packageRoot, 'src/cli/main.ts'),
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--http-listen',
      '127.0.0.1:0',
      '--poll-interval',
      '100ms',
      '--http-timeout',
      '5s',
      ...args,
    ],
    {
      env: {
        ...process.env,
        NODE_OPTIONS: '',
        LOG_LEVEL: 'debug',
        STACKIT_API_ENDPOINT: fakes.stackit.url,
        CLOUDSIGMA_API_ENDPOINT: fakes.cloudsigma.apiUrl,
        CLOUDSIGMA_OAUTH_ENDPOINT: fakes.cloudsigma.oauthUrl,
        CLOUDSIGMA_IMPERSONATION_ENDPOINT: fakes.cloudsigma.impersonationUrl,
        VPSIE_API_ENDPOINT: fakes.vpsie.apiUrl,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const started = await new Promise<{ grpc: string; http: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start in 60 s: ${lines.join('\n')}`)), 60_000);
    let partial = '';
    const onData = (chunk: Buffer) => {
      const text = partial + chunk.toString();
      const parts = text.split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts.filter(Boolean)) {
        lines.push(line);
        if (line.includes('"sidecar serving"')) {
          clearTimeout(timer);
          resolve(JSON.parse(line) as { grpc: string; http: string });
        }
      }
    };
    proc.stderr!.on('data', onData);
    proc.stdout!.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`serve exited during startup: ${lines.join('\n')}`));
    });
  });
  const client = new DriverServiceClient(started.grpc);
  return {
    proc,
    pid: proc.pid!,
    lines,
    exited,
    client,
    ...started,
    rssMiB: () => {
      const status = readFileSync(`/proc/${proc.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
    },
    close: async () => {
      client.close();
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

export async function waitUntil(probe: () => boolean, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`${what} not reached in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
