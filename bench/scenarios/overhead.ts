// 1. Overhead per call: the same Machine lifecycle through the sidecar and through the direct
// client, interleaved call by call (the order alternates every iteration) so that whatever else
// the machine is doing hits both sides alike.
import { setTimeout as sleep } from 'node:timers/promises';
import type { EmptyGrpc } from '../lib/empty-grpc.js';
import { type FakeProcess } from '../lib/fake.js';
import { cpuSeconds } from '../lib/proc.js';
import { CLASS_LABELS, DirectStackit, listRequest, MACHINE_LABEL, machineRequest, PROJECT_ID, providerIdOf, REGION } from '../lib/stackit.js';
import { startSidecar, SidecarClient } from '../lib/sidecar.js';
import { spread, summarize, type Spread, type Summary } from '../lib/stats.js';

export const OPS = ['GetMachineStatus', 'CreateMachine (fresh)', 'CreateMachine (adopt)', 'ListMachines', 'DeleteMachine'] as const;
export type Op = (typeof OPS)[number];
/** The order one Machine's life takes in every iteration. */
const LIFECYCLE: readonly Op[] = ['CreateMachine (fresh)', 'GetMachineStatus', 'CreateMachine (adopt)', 'ListMachines', 'DeleteMachine'];
export type Path = 'sidecar' | 'direct';

/** The cloud requests behind each call (src/driver/machine-driver.ts), identical on both sides. */
export const CLOUD_CALLS: Record<Op, string> = {
  GetMachineStatus: 'GET server',
  'CreateMachine (fresh)': 'GET list by labels (empty), POST server (ACTIVE at once)',
  'CreateMachine (adopt)': 'GET list by labels (finds the ACTIVE server)',
  ListMachines: 'GET list by class labels (~20 servers)',
  DeleteMachine: 'GET server, DELETE, poll wait, GET server (404)',
};

export type RunSamples = Record<Op, Record<Path, number[]>> & {
  /** GetVolumeIDs with one STACKIT PV: no cloud request at all, the floor of an RPC. */
  floor: number[];
  /** An empty unary call to a bare grpc-js server (bench/empty-grpc-child.ts): the cost of a gRPC hop by itself. */
  empty: number[];
};

/** A PersistentVolume spec of STACKIT's CSI driver, for GetVolumeIDs. */
const PV_SPEC = Buffer.from(JSON.stringify({ csi: { driver: 'block-storage.csi.stackit.cloud', volumeHandle: '5e0a8b2c-0d4f-4f55-a1c9-6b7d2e3f4a5b' } }));

export interface OverheadOptions {
  fake: FakeProcess;
  runs: number;
  /** Measured iterations per worker and run. */
  iterations: number;
  /** Unmeasured iterations per worker at the start of every run (JIT, connections). */
  warmup: number;
  /** Independent lifecycles running at once (1 = strictly sequential). */
  concurrency: number;
  pollIntervalMs: number;
  label: string;
  /** Background servers of the class, so ListMachines returns a realistic page. */
  background?: number;
  /** A bare grpc-js server; each iteration also makes one empty call to it (the baseline of an RPC). */
  empty?: EmptyGrpc;
  /**
   * Concurrent lifecycles start at random offsets in [0, jitterMs) and pause a random [0, jitterMs/10)
   * between calls (unmeasured), like independent MCM workers. Without it, calls that all take
   * exactly the cloud's latency stay in lockstep and reach the sidecar in bursts.
   */
  jitterMs?: number;
}

export interface OpResult {
  op: Op;
  sidecarP50: Spread;
  directP50: Spread;
  addedP50: Spread;
  ratioP50: Spread;
  sidecarP99: Spread;
  directP99: Spread;
  ratioP99: Spread;
  samplesPerRun: number;
}

export interface OverheadResult {
  label: string;
  latencyMs: number;
  runs: number;
  concurrency: number;
  ops: OpResult[];
  /** GetVolumeIDs (no cloud request) through the sidecar. */
  floorP50: Spread;
  floorP99: Spread;
  /** The empty grpc-js call, interleaved with the rest (undefined without `empty`). */
  emptyP50?: Spread;
  emptyP99?: Spread;
  /** Sidecar CPU per RPC over the whole run (lifecycle mix plus GetVolumeIDs), ms. */
  cpuMsPerRpc: Spread;
  perRun: Record<Op, Record<Path, Summary>>[];
}

export async function runOverhead(o: OverheadOptions): Promise<OverheadResult> {
  const { fake } = o;
  await fake.reset();
  await fake.seed({ projectId: PROJECT_ID, region: REGION, count: o.background ?? 20, namePrefix: 'background-', labels: CLASS_LABELS, machineLabel: MACHINE_LABEL });
  const perRun: Record<Op, Record<Path, Summary>>[] = [];
  const floors: Summary[] = [];
  const empties: Summary[] = [];
  const cpuPerRpc: number[] = [];
  for (let run = 0; run < o.runs; run++) {
    const sidecar = await startSidecar({ env: { STACKIT_API_ENDPOINT: fake.url }, pollIntervalMs: o.pollIntervalMs, logName: `overhead-${o.label}-${run}` });
    const client = new SidecarClient(sidecar.target);
    const direct = new DirectStackit(fake.url, o.pollIntervalMs);
    const samples = emptySamples();
    const cpu0 = cpuSeconds(sidecar.pid);
    try {
      await Promise.all(
        Array.from({ length: o.concurrency }, (_, w) => worker({ run, w, client, direct, samples, empty: o.empty, iterations: o.iterations, warmup: o.warmup, jitterMs: o.jitterMs ?? 0 })),
      );
      const rpcs = o.concurrency * (o.warmup + o.iterations) * (OPS.length + 1);
      cpuPerRpc.push(((cpuSeconds(sidecar.pid) - cpu0) * 1000) / rpcs);
    } finally {
      client.close();
      direct.close();
      await sidecar.stop();
    }
    floors.push(summarize(samples.floor));
    if (samples.empty.length) empties.push(summarize(samples.empty));
    perRun.push(Object.fromEntries(OPS.map((op) => [op, { sidecar: summarize(samples[op].sidecar), direct: summarize(samples[op].direct) }])) as Record<Op, Record<Path, Summary>>);
    process.stdout.write(`  ${o.label} run ${run + 1}/${o.runs}: ${OPS.map((op) => `${op} ${perRun.at(-1)![op].sidecar.p50.toFixed(2)}/${perRun.at(-1)![op].direct.p50.toFixed(2)}`).join(', ')} ms\n`);
  }
  return {
    label: o.label,
    latencyMs: fake.latencyMs,
    runs: o.runs,
    concurrency: o.concurrency,
    perRun,
    ops: OPS.map((op) => aggregate(op, perRun.map((r) => r[op]))),
    floorP50: spread(floors.map((f) => f.p50)),
    floorP99: spread(floors.map((f) => f.p99)),
    ...(empties.length ? { emptyP50: spread(empties.map((f) => f.p50)), emptyP99: spread(empties.map((f) => f.p99)) } : {}),
    cpuMsPerRpc: spread(cpuPerRpc),
  };
}

function aggregate(op: Op, runs: Record<Path, Summary>[]): OpResult {
  return {
    op,
    sidecarP50: spread(runs.map((r) => r.sidecar.p50)),
    directP50: spread(runs.map((r) => r.direct.p50)),
    addedP50: spread(runs.map((r) => r.sidecar.p50 - r.direct.p50)),
    ratioP50: spread(runs.map((r) => r.sidecar.p50 / r.direct.p50)),
    sidecarP99: spread(runs.map((r) => r.sidecar.p99)),
    directP99: spread(runs.map((r) => r.direct.p99)),
    ratioP99: spread(runs.map((r) => r.sidecar.p99 / r.direct.p99)),
    samplesPerRun: runs[0]?.sidecar.n ?? 0,
  };
}

function emptySamples(): RunSamples {
  return { ...Object.fromEntries(OPS.map((op) => [op, { sidecar: [], direct: [] }])), floor: [], empty: [] } as unknown as RunSamples;
}

async function worker(a: { run: number; w: number; client: SidecarClient; direct: DirectStackit; samples: RunSamples; empty?: EmptyGrpc; iterations: number; warmup: number; jitterMs: number }) {
  const { client, direct, samples } = a;
  const pause = (upTo: number) => (upTo > 0 ? sleep(Math.random() * upTo) : undefined);
  await pause(a.jitterMs);
  for (let i = 0; i < a.warmup + a.iterations; i++) {
    const record = i >= a.warmup;
    const order: Path[] = (i + a.w) % 2 === 0 ? ['sidecar', 'direct'] : ['direct', 'sidecar'];
    const names: Record<Path, string> = { sidecar: `bench-r${a.run}-w${a.w}-i${i}-s`, direct: `bench-r${a.run}-w${a.w}-i${i}-d` };
    const ids: Record<Path, string> = { sidecar: '', direct: '' };
    for (const op of LIFECYCLE) {
      for (const path of order) {
        await pause(a.jitterMs / 10);
        const started = performance.now();
        if (path === 'sidecar') await sidecarOp(client, op, names.sidecar, ids);
        else await directOp(direct, op, names.direct, ids);
        if (record) samples[op][path].push(performance.now() - started);
      }
    }
    await pause(a.jitterMs / 10);
    const started = performance.now();
    const res = await client.call<{ volumeIds: string[] }>('GetVolumeIDs', { pvSpecs: [PV_SPEC] });
    if (record) samples.floor.push(performance.now() - started);
    if (res.volumeIds.length !== 1) throw new Error('GetVolumeIDs found no volume');
    if (a.empty) {
      await pause(a.jitterMs / 10);
      const t0 = performance.now();
      await a.empty.call();
      if (record) samples.empty.push(performance.now() - t0);
    }
  }
}

async function sidecarOp(client: SidecarClient, op: Op, name: string, ids: Record<Path, string>): Promise<void> {
  switch (op) {
    case 'CreateMachine (fresh)': {
      const res = await client.call('CreateMachine', machineRequest(name));
      ids.sidecar = res.providerId;
      return;
    }
    case 'GetMachineStatus': {
      const res = await client.call('GetMachineStatus', machineRequest(name, ids.sidecar));
      if (res.providerId !== ids.sidecar) throw new Error(`GetMachineStatus answered ${res.providerId}`);
      return;
    }
    case 'CreateMachine (adopt)': {
      const res = await client.call('CreateMachine', machineRequest(name));
      if (res.providerId !== ids.sidecar) throw new Error(`CreateMachine did not adopt ${ids.sidecar}: ${res.providerId}`);
      return;
    }
    case 'ListMachines': {
      const res = await client.call('ListMachines', listRequest());
      if (res.machineList[ids.sidecar] !== name) throw new Error(`ListMachines misses ${ids.sidecar}`);
      return;
    }
    case 'DeleteMachine':
      await client.call('DeleteMachine', machineRequest(name, ids.sidecar));
      return;
  }
}

async function directOp(direct: DirectStackit, op: Op, name: string, ids: Record<Path, string>): Promise<void> {
  switch (op) {
    case 'CreateMachine (fresh)': {
      const r = await direct.createMachine(name);
      if (r.adopted) throw new Error('direct create found a server');
      ids.direct = r.serverId;
      return;
    }
    case 'GetMachineStatus':
      return direct.getMachineStatus(ids.direct);
    case 'CreateMachine (adopt)': {
      const r = await direct.createMachine(name);
      if (!r.adopted || r.serverId !== ids.direct) throw new Error('direct create did not adopt');
      return;
    }
    case 'ListMachines': {
      const list = await direct.listMachines();
      if (list.get(providerIdOf(ids.direct)) !== name) throw new Error('direct list misses the server');
      return;
    }
    case 'DeleteMachine':
      return direct.deleteMachine(ids.direct);
  }
}
