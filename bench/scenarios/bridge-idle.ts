// 5b. What a shoot pays per design, idle: the bridge (bridge/cmd/machine-controller: MCM's machine
// controller with the gRPC driver, the part that equals STACKIT's Go provider process) beside the
// sidecar it forwards to, both started in this run against the same fake, the bridge watching a real
// kube-apiserver (test/e2e/controlplane). Nothing to reconcile: the idle cost of each process.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cacheRoot, kubectl, startControlPlane, type ControlPlane } from '../../test/e2e/controlplane/controlplane.js';
import type { FakeProcess } from '../lib/fake.js';
import { cpuSeconds, memory } from '../lib/proc.js';
import { BUILD_DIR, freePort, ROOT, startSidecar } from '../lib/sidecar.js';

const BRIDGE_BIN = join(BUILD_DIR, 'machine-controller');

export interface ProcessIdle {
  rssMiB: number;
  hwmMiB: number;
  /** CPU ms per second of wall time over the idle window (utime + stime from /proc). */
  cpuMsPerS: number;
}

export interface BridgeIdleResult {
  idleS: number;
  sidecar?: ProcessIdle;
  bridge?: ProcessIdle;
  buildMs?: number;
  controlPlaneStartMs?: number;
  /** Why nothing (or not everything) was measured. */
  note?: string;
}

/** The control-plane cache build.sh leaves complete (a `.complete` stamp), if any; the bench never starts that build (10+ min). */
function completeCache(): string | undefined {
  const root = cacheRoot();
  if (!existsSync(root)) return undefined;
  return readdirSync(root).find((d) => existsSync(join(root, d, '.complete')));
}

async function waitHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await sleep(200);
  }
}

export async function runBridgeIdle(fake: FakeProcess, o: { idleS: number; settleS: number }): Promise<BridgeIdleResult> {
  const cache = completeCache();
  if (!cache) {
    return {
      idleS: o.idleS,
      note: `Not measured: the control-plane cache (${cacheRoot()}) has no complete build (no \`.complete\` stamp), and the bench does not start that build (10+ min). Build it with \`bash test/e2e/controlplane/build.sh\`, then re-run \`npm run bench -- --only idle\`.`,
    };
  }
  const b0 = performance.now();
  const built = spawnSync('go', ['build', '-o', BRIDGE_BIN, './cmd/machine-controller'], { cwd: join(ROOT, 'bridge'), encoding: 'utf8' });
  if (built.status !== 0) return { idleS: o.idleS, note: `Not measured: the bridge did not build: ${built.stderr.slice(0, 400)}` };
  const buildMs = performance.now() - b0;

  let cp: ControlPlane | undefined;
  const c0 = performance.now();
  try {
    cp = await startControlPlane({ readyTimeoutMs: 180_000 });
  } catch (err) {
    return { idleS: o.idleS, buildMs, note: `Not measured: the control plane (${cache}) did not start: ${(err as Error).message.slice(0, 400)}` };
  }
  const controlPlaneStartMs = performance.now() - c0;
  const namespace = 'bench-idle';
  await kubectl(cp.kubeconfig, ['create', 'namespace', namespace]);
  const sidecar = await startSidecar({ env: { STACKIT_API_ENDPOINT: fake.url }, logName: 'idle-sidecar' });
  const port = await freePort();
  const logDir = join(BUILD_DIR, 'logs');
  mkdirSync(logDir, { recursive: true });
  const logFd = openSync(join(logDir, 'idle-bridge.log'), 'w');
  const bridge = spawn(
    BRIDGE_BIN,
    [
      `--control-kubeconfig=${cp.kubeconfig}`,
      '--target-kubeconfig=none',
      `--namespace=${namespace}`,
      `--driver-endpoint=${sidecar.target}`,
      '--driver-call-timeout=2m',
      '--machine-creation-timeout=20m',
      '--leader-elect=false',
      '--address=127.0.0.1',
      `--port=${port}`,
      '--v=2',
    ],
    { stdio: ['ignore', logFd, logFd] },
  );
  closeSync(logFd);
  const exited = new Promise<void>((resolve) => bridge.once('exit', () => resolve()));
  try {
    await waitHttp(`http://127.0.0.1:${port}/healthz`, 60_000);
    await sleep(o.settleS * 1000); // informers synced, start-up work done
    const pids = { sidecar: sidecar.pid, bridge: bridge.pid! };
    const cpu0 = { sidecar: cpuSeconds(pids.sidecar), bridge: cpuSeconds(pids.bridge) };
    const t0 = performance.now();
    await sleep(o.idleS * 1000);
    const wallS = (performance.now() - t0) / 1000;
    const idle = (pid: number, cpuStart: number): ProcessIdle => {
      const m = memory(pid);
      return { rssMiB: m.rssMiB, hwmMiB: m.hwmMiB, cpuMsPerS: ((cpuSeconds(pid) - cpuStart) * 1000) / wallS };
    };
    const result = { idleS: wallS, sidecar: idle(pids.sidecar, cpu0.sidecar), bridge: idle(pids.bridge, cpu0.bridge), buildMs, controlPlaneStartMs };
    process.stdout.write(
      `  idle ${wallS.toFixed(0)} s: bridge ${result.bridge.rssMiB.toFixed(0)} MiB, ${result.bridge.cpuMsPerS.toFixed(2)} CPU ms/s; sidecar ${result.sidecar.rssMiB.toFixed(0)} MiB, ${result.sidecar.cpuMsPerS.toFixed(2)} CPU ms/s\n`,
    );
    return result;
  } catch (err) {
    return { idleS: o.idleS, buildMs, controlPlaneStartMs, note: `Not measured: ${(err as Error).message.slice(0, 400)} (bench/.build/logs/idle-bridge.log)` };
  } finally {
    bridge.kill('SIGTERM');
    const t = setTimeout(() => bridge.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
    await sidecar.stop();
    await cp.stop();
  }
}
