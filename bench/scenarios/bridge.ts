// 5. Through the Go bridge: bridge/bench (build tag `bench`) calls the sidecar through
// pkg/grpcdriver's driver.Driver, the code MCM calls, next to a Go net/http client making the
// same cloud calls, and prints the latencies; this file builds it, runs it and summarises.
import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { FakeProcess } from '../lib/fake.js';
import { cpuSeconds } from '../lib/proc.js';
import { BUILD_DIR, ROOT, startSidecar } from '../lib/sidecar.js';
import { CLASS_LABELS, CLASS_NAME, MACHINE_LABEL, NAMESPACE, PROJECT_ID, REGION } from '../lib/stackit.js';
import { BASE_SPEC, STATIC_TOKEN, USER_DATA } from '../../test/support/stackit-harness.js';
import { spread, summarize, type Spread, type Summary } from '../lib/stats.js';
import type { BridgeClass } from './list-scale.js';
import { OPS, type Op } from './overhead.js';

const run = promisify(execFile);
const BIN = join(BUILD_DIR, 'bridge-bench');

export function buildBridgeBench(): { ms: number } {
  const started = performance.now();
  const r = spawnSync('go', ['build', '-tags', 'bench', '-o', BIN, './bench'], { cwd: join(ROOT, 'bridge'), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`go build -tags bench ./bench failed:\n${r.stderr}`);
  return { ms: performance.now() - started };
}

function commonArgs(endpoint: string, fakeUrl: string): string[] {
  return [
    '-endpoint', endpoint,
    '-fake-url', fakeUrl,
    '-project', PROJECT_ID,
    '-region', REGION,
    '-class', CLASS_NAME,
    '-namespace', NAMESPACE,
    '-token', STATIC_TOKEN,
    '-spec', JSON.stringify(BASE_SPEC),
    '-user-data', USER_DATA,
  ];
}

async function goBench<T>(args: string[]): Promise<T> {
  const { stdout } = await run(BIN, args, { maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(stdout) as T;
}

export interface BridgeOp {
  op: Op;
  bridgeP50: Spread;
  directP50: Spread;
  addedP50: Spread;
  ratioP50: Spread;
  bridgeP99: Spread;
  directP99: Spread;
}

export interface BridgeResult {
  runs: number;
  iterations: number;
  ops: BridgeOp[];
  /** GetVolumeIDs (no cloud request) through the bridge. */
  floorP50: Spread;
  floorP99: Spread;
  throughput: { calls: number; concurrency: number; callsPerSecond: Spread; p50: Spread; p99: Spread; sidecarCpu: Spread };
}

export async function runBridge(fake: FakeProcess, o: { runs: number; iterations: number; warmup: number; calls: number; concurrency: number }): Promise<BridgeResult> {
  await fake.reset();
  await fake.seed({ projectId: PROJECT_ID, region: REGION, count: 20, namePrefix: 'background-', labels: CLASS_LABELS, machineLabel: MACHINE_LABEL });
  const ids = await fake.seed({ projectId: PROJECT_ID, region: REGION, count: o.concurrency, namePrefix: 'busy-', labels: CLASS_LABELS, machineLabel: MACHINE_LABEL });
  const perRun: Record<Op, { bridge: Summary; direct: Summary }>[] = [];
  const tput: { callsPerSecond: number; p50: number; p99: number; sidecarCpu: number }[] = [];
  const floors: Summary[] = [];
  for (let r = 0; r < o.runs; r++) {
    const sidecar = await startSidecar({ env: { STACKIT_API_ENDPOINT: fake.url }, logName: `bridge-${r}` });
    try {
      const args = commonArgs(sidecar.target, fake.url);
      const pc = await goBench<{ samples: Record<Op, { bridge: number[]; direct: number[] }>; floor: number[] }>([
        ...args, '-mode', 'percall', '-run', String(r), '-iterations', String(o.iterations), '-warmup', String(o.warmup), '-poll', '1ms',
      ]);
      perRun.push(Object.fromEntries(OPS.map((op) => [op, { bridge: summarize(pc.samples[op].bridge), direct: summarize(pc.samples[op].direct) }])) as Record<Op, { bridge: Summary; direct: Summary }>);
      floors.push(summarize(pc.floor));
      const cpu0 = cpuSeconds(sidecar.pid);
      const tp = await goBench<{ latencies: number[]; seconds: number }>([...args, '-mode', 'throughput', '-calls', String(o.calls), '-concurrency', String(o.concurrency), '-ids', ids.join(',')]);
      const s = summarize(tp.latencies);
      tput.push({ callsPerSecond: o.calls / tp.seconds, p50: s.p50, p99: s.p99, sidecarCpu: ((cpuSeconds(sidecar.pid) - cpu0) * 1000) / o.calls });
      const last = perRun.at(-1)!;
      process.stdout.write(`  bridge run ${r + 1}/${o.runs}: ${OPS.map((op) => `${op} ${last[op].bridge.p50.toFixed(2)}/${last[op].direct.p50.toFixed(2)}`).join(', ')} ms; ${tput.at(-1)!.callsPerSecond.toFixed(0)} calls/s\n`);
    } finally {
      await sidecar.stop();
    }
  }
  return {
    runs: o.runs,
    iterations: o.iterations,
    ops: OPS.map((op) => {
      const runs = perRun.map((p) => p[op]);
      return {
        op,
        bridgeP50: spread(runs.map((x) => x.bridge.p50)),
        directP50: spread(runs.map((x) => x.direct.p50)),
        addedP50: spread(runs.map((x) => x.bridge.p50 - x.direct.p50)),
        ratioP50: spread(runs.map((x) => x.bridge.p50 / x.direct.p50)),
        bridgeP99: spread(runs.map((x) => x.bridge.p99)),
        directP99: spread(runs.map((x) => x.direct.p99)),
      };
    }),
    floorP50: spread(floors.map((f) => f.p50)),
    floorP99: spread(floors.map((f) => f.p99)),
    throughput: {
      calls: o.calls,
      concurrency: o.concurrency,
      callsPerSecond: spread(tput.map((t) => t.callsPerSecond)),
      p50: spread(tput.map((t) => t.p50)),
      p99: spread(tput.map((t) => t.p99)),
      sidecarCpu: spread(tput.map((t) => t.sidecarCpu)),
    },
  };
}

/** ListMachines through the bridge, against a running sidecar (used by the list-scale run); the STACKIT class unless `cls` is given. */
export async function bridgeList(target: string, cls?: BridgeClass, reps = 1): Promise<{ ms?: number; error?: string }> {
  const classArgs = cls ? ['-provider', cls.provider, '-spec', JSON.stringify(cls.providerSpec), '-secret', JSON.stringify(cls.secret)] : [];
  try {
    const r = await goBench<{ latencies?: number[]; error?: string }>([...commonArgs(target, 'http://127.0.0.1:1'), ...classArgs, '-mode', 'list', '-reps', String(reps)]);
    if (r.error) return { error: r.error };
    return { ms: spread(r.latencies ?? []).median };
  } catch (err) {
    return { error: (err as Error).message };
  }
}
