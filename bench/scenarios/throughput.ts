// 2. Throughput at MCM's concurrency, and 4. footprint under it: 50 callers share 10,000
// GetMachineStatus calls (the call MCM makes most: every machine, every sync), through the
// sidecar and directly, alternating run by run. One sidecar process for all runs, so its idle
// RSS, its RSS under load and its peak can be read from /proc.
import type { FakeProcess } from '../lib/fake.js';
import { cpuSeconds, memory, rssSplit, runqueueWaitSeconds, sampleRss } from '../lib/proc.js';
import { heapBreakdown, SidecarClient, startSidecar, type HeapBreakdown } from '../lib/sidecar.js';
import { CLASS_LABELS, DirectStackit, MACHINE_LABEL, machineRequest, PROJECT_ID, providerIdOf, REGION } from '../lib/stackit.js';
import { spread, summarize, type Spread } from '../lib/stats.js';

export interface ThroughputRun {
  callsPerSecond: number;
  p50: number;
  p99: number;
  /** CPU seconds per 1,000 calls, by process. */
  sidecarCpu?: number;
  /** Seconds per 1,000 calls the sidecar's event loop waited for a CPU while it had work. */
  sidecarWait?: number;
  fakeCpu: number;
  clientCpu: number;
  rssMaxMiB?: number;
  rssMedianMiB?: number;
}

export interface ThroughputResult {
  calls: number;
  concurrency: number;
  sidecar: ThroughputRun[];
  direct: ThroughputRun[];
  agg: Record<'sidecar' | 'direct', { callsPerSecond: Spread; p50: Spread; p99: Spread; fakeCpu: Spread; clientCpu: Spread }> & {
    sidecarCpu: Spread;
    sidecarWait: Spread;
    rssMax: Spread;
    rssMedian: Spread;
  };
  rssIdleMiB: number;
  rssIdleAfterMiB: number;
  /** Right after the last sidecar run: RSS split by page kind (/proc) and the V8 heap (the sidecar's /metrics). */
  afterLoad?: { rssMiB: number; anonMiB: number; fileMiB: number; heap: HeapBreakdown };
  hwmMiB: number;
}

export async function runThroughput(fake: FakeProcess, o: { calls: number; concurrency: number; runs: number; warmup: number }): Promise<ThroughputResult> {
  await fake.reset();
  const ids = await fake.seed({ projectId: PROJECT_ID, region: REGION, count: o.concurrency, namePrefix: 'busy-', labels: CLASS_LABELS, machineLabel: MACHINE_LABEL });
  const sidecar = await startSidecar({ env: { STACKIT_API_ENDPOINT: fake.url }, logName: 'throughput' });
  const client = new SidecarClient(sidecar.target);
  const direct = new DirectStackit(fake.url, 1);
  const requests = ids.map((id, i) => machineRequest(`busy-${i}`, providerIdOf(id)));
  const viaSidecar = (w: number) => client.call('GetMachineStatus', requests[w]!).then(() => undefined);
  const viaDirect = (w: number) => direct.getMachineStatus(ids[w]!);
  const result: ThroughputResult = { calls: o.calls, concurrency: o.concurrency, sidecar: [], direct: [], rssIdleMiB: 0, rssIdleAfterMiB: 0, hwmMiB: 0, agg: undefined as never };
  try {
    await sleepMs(1_000);
    result.rssIdleMiB = memory(sidecar.pid).rssMiB;
    await drive(o.warmup, o.concurrency, viaSidecar);
    await drive(o.warmup, o.concurrency, viaDirect);
    for (let run = 0; run < o.runs; run++) {
      for (const path of run % 2 === 0 ? (['sidecar', 'direct'] as const) : (['direct', 'sidecar'] as const)) {
        const cpu0 = { sidecar: cpuSeconds(sidecar.pid), wait: runqueueWaitSeconds(sidecar.pid), fake: cpuSeconds(fake.pid), client: process.cpuUsage() };
        const rss = path === 'sidecar' ? sampleRss(sidecar.pid) : undefined;
        const { latencies, seconds } = await drive(o.calls, o.concurrency, path === 'sidecar' ? viaSidecar : viaDirect);
        const rssSamples = rss?.stop() ?? [];
        const clientCpu = process.cpuUsage(cpu0.client);
        const perK = (s: number) => (s * 1000) / o.calls;
        const s = summarize(latencies);
        const r: ThroughputRun = {
          callsPerSecond: o.calls / seconds,
          p50: s.p50,
          p99: s.p99,
          fakeCpu: perK(cpuSeconds(fake.pid) - cpu0.fake),
          clientCpu: perK((clientCpu.user + clientCpu.system) / 1e6),
        };
        if (path === 'sidecar') {
          r.sidecarCpu = perK(cpuSeconds(sidecar.pid) - cpu0.sidecar);
          r.sidecarWait = perK(runqueueWaitSeconds(sidecar.pid) - cpu0.wait);
          r.rssMaxMiB = Math.max(...rssSamples);
          r.rssMedianMiB = summarize(rssSamples).p50;
          // After the CPU figures above: rendering /metrics is work of the sidecar's own.
          const rssNow = memory(sidecar.pid).rssMiB;
          result.afterLoad = { rssMiB: rssNow, ...rssSplit(sidecar.pid), heap: await heapBreakdown(sidecar.httpUrl) };
        }
        result[path].push(r);
        process.stdout.write(`  throughput run ${run + 1}/${o.runs} ${path}: ${r.callsPerSecond.toFixed(0)} calls/s, p99 ${r.p99.toFixed(1)} ms${r.sidecarCpu !== undefined ? `, sidecar ${r.sidecarCpu.toFixed(2)} CPU s/1k calls (waited ${r.sidecarWait!.toFixed(2)} s for a CPU), RSS max ${r.rssMaxMiB!.toFixed(0)} MiB` : ''}\n`);
      }
    }
    await sleepMs(2_000);
    const after = memory(sidecar.pid);
    result.rssIdleAfterMiB = after.rssMiB;
    result.hwmMiB = after.hwmMiB;
  } finally {
    client.close();
    direct.close();
    await sidecar.stop();
  }
  const agg = (runs: ThroughputRun[]) => ({
    callsPerSecond: spread(runs.map((r) => r.callsPerSecond)),
    p50: spread(runs.map((r) => r.p50)),
    p99: spread(runs.map((r) => r.p99)),
    fakeCpu: spread(runs.map((r) => r.fakeCpu)),
    clientCpu: spread(runs.map((r) => r.clientCpu)),
  });
  result.agg = {
    sidecar: agg(result.sidecar),
    direct: agg(result.direct),
    sidecarCpu: spread(result.sidecar.map((r) => r.sidecarCpu!)),
    sidecarWait: spread(result.sidecar.map((r) => r.sidecarWait!)),
    rssMax: spread(result.sidecar.map((r) => r.rssMaxMiB!)),
    rssMedian: spread(result.sidecar.map((r) => r.rssMedianMiB!)),
  };
  return result;
}

/** `calls` calls shared by `concurrency` callers; each caller w always uses its own Machine w. */
export async function drive(calls: number, concurrency: number, call: (w: number) => Promise<void>): Promise<{ latencies: number[]; seconds: number }> {
  const latencies: number[] = [];
  let issued = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      while (issued < calls) {
        issued++;
        const t0 = performance.now();
        await call(w);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { latencies, seconds: (performance.now() - started) / 1000 };
}

function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
