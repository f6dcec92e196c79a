// Renders bench/RESULTS.md from the results of one `npm run bench`.
import type { HttpClientResult } from '../scenarios/http-client.js';
import type { ProfileResult } from '../scenarios/profile.js';
import type { BridgeResult } from '../scenarios/bridge.js';
import type { ColdStartResult } from '../scenarios/cold-start.js';
import type { ListCloudResult } from '../scenarios/list-scale.js';
import { CLOUD_CALLS, OPS, type Op, type OverheadResult } from '../scenarios/overhead.js';
import type { ThroughputResult } from '../scenarios/throughput.js';
import type { BridgeIdleResult } from '../scenarios/bridge-idle.js';
import type { ModulesResult } from '../scenarios/modules.js';
import type { MachineFacts } from './proc.js';
import { fmtSpread, linearFit, ms, type Spread } from './stats.js';

export interface Results {
  facts: MachineFacts;
  /** git rev-parse HEAD and the tracked files changed on top of it when the run started. */
  source: { commit: string; dirty: string[] };
  /** The node flags every sidecar of the run was started with, and where they came from (bench/lib/node-flags.ts). */
  sidecarNodeFlags?: { flags: string[]; source: string };
  modules?: ModulesResult;
  idle?: BridgeIdleResult;
  loadAtEnd: number[];
  date: string;
  elapsedS: number;
  config: Record<string, unknown>;
  build: { tscMs: number; bundleMs?: number; typeErrors: string[]; goMs?: number };
  zero?: OverheadResult;
  slow?: OverheadResult;
  /** The 100 ms run with one lifecycle at a time. */
  slowAlone?: OverheadResult;
  /** A CPU profile at 100 ms cloud latency, one call at a time. */
  slowProfile?: ProfileResult;
  throughput?: ThroughputResult;
  lists?: ListCloudResult[];
  listNote?: string;
  coldStart?: ColdStartResult;
  bridge?: BridgeResult;
  bridgeNote?: string;
  profiles?: ProfileResult[];
  httpClient?: HttpClientResult;
}

/** Cloud requests per call (for the fixed + per-request decomposition). */
export const REQUESTS: Record<Op, number> = {
  GetMachineStatus: 1,
  'CreateMachine (fresh)': 2,
  'CreateMachine (adopt)': 1,
  ListMachines: 1,
  DeleteMachine: 3,
};

export interface Target {
  what: string;
  target: string;
  measured: string;
  met: boolean;
}

/** Issue 15's targets, each a ratio or a bound measured in this run. */
export const TARGETS = {
  idleRssMiB: 60,
  peakRssMiB: 120,
  addedP50PerEmptyCall: 2.5,
  cpuMsPerCall: 0.25,
  throughputShare: 0.4,
  coldStartMs: 500,
  listPeakRssMiB: 250,
  benchMinutes: 8,
};

export function targets(r: Results): Target[] {
  const out: Target[] = [];
  const T = TARGETS;
  const steady = r.idle?.sidecar;
  if (steady || r.coldStart) {
    // Steady idle (§4c: connected to the bridge, after settling) when measured; else 1 s after SERVING (§4).
    const value = steady ? steady.rssMiB : r.coldStart!.rssIdleMiB.median;
    const also = [
      steady && r.coldStart ? `1 s after SERVING: ${fmtSpread(r.coldStart.rssIdleMiB, mib)} MiB` : '',
      r.modules ? `bare Node ${mib(r.modules.bare.rssMiB.median)} MiB` : '',
    ].filter(Boolean);
    out.push({
      what: steady ? `sidecar RSS idle (§4c: beside the bridge, after ${(r.idle!.idleS + (r.config as { idle?: { settleS?: number } }).idle?.settleS!).toFixed(0)} s idle)` : 'sidecar RSS idle (1 s after SERVING, nothing served)',
      target: `≤ ${T.idleRssMiB} MiB`,
      measured: `${mib(value)} MiB${also.length ? ` (${also.join('; ')})` : ''}`,
      met: value <= T.idleRssMiB,
    });
  }
  if (r.throughput) {
    const a = r.throughput.agg;
    out.push({ what: `sidecar RSS at peak, ${r.throughput.concurrency} callers × ${num(r.throughput.calls)} calls`, target: `≤ ${T.peakRssMiB} MiB`, measured: `${fmtSpread(a.rssMax, mib)} MiB (VmHWM ${mib(r.throughput.hwmMiB)} MiB)`, met: a.rssMax.median <= T.peakRssMiB });
    out.push({ what: 'sidecar CPU per GetMachineStatus (50 callers)', target: `≤ ${T.cpuMsPerCall} ms`, measured: `${fmtSpread(a.sidecarCpu, (v) => v.toFixed(3))} ms`, met: a.sidecarCpu.median <= T.cpuMsPerCall });
    const share = a.sidecar.callsPerSecond.median / a.direct.callsPerSecond.median;
    out.push({ what: '50-caller throughput, sidecar / direct calls to the fake', target: `≥ ${T.throughputShare * 100} %`, measured: `${(share * 100).toFixed(1)} % (${num(a.sidecar.callsPerSecond.median)} / ${num(a.direct.callsPerSecond.median)} calls/s)`, met: share >= T.throughputShare });
  }
  const z = r.zero?.ops.find((o) => o.op === 'GetMachineStatus');
  if (z && r.zero?.emptyP50) {
    const e = r.zero.emptyP50.median;
    const x = z.addedP50.median / e;
    out.push({ what: 'added p50 per GetMachineStatus, zero cloud latency, ÷ empty grpc-js call p50', target: `≤ ${T.addedP50PerEmptyCall} ×`, measured: `×${x.toFixed(2)} (${ms(z.addedP50.median)} ms ÷ ${ms(e)} ms)`, met: x <= T.addedP50PerEmptyCall });
  }
  if (r.coldStart) {
    out.push({ what: 'cold start: spawn → gRPC health SERVING', target: `≤ ${T.coldStartMs} ms`, measured: `${fmtSpread(r.coldStart.startMs, (v) => v.toFixed(0))} ms`, met: r.coldStart.startMs.median <= T.coldStartMs });
  }
  for (const l of r.lists ?? []) {
    const growth = listGrowth(l);
    if (growth) {
      out.push({
        what: `ListMachines linear in VMs (${l.cloud})`,
        target: 'sidecar CPU per VM ×1.5 at most from the second-largest to the largest size',
        measured: `${growth.text}; R² ${l.fit ? l.fit.r2.toFixed(4) : 'n/a'}`,
        met: growth.ratio < 1.5,
      });
    }
    const last = l.sizes[l.sizes.length - 1];
    if (last) out.push({ what: `ListMachines peak RSS at ${num(last.vms)} VMs (${l.cloud})`, target: `≤ ${T.listPeakRssMiB} MiB`, measured: `${mib(last.hwmMiB)} MiB`, met: last.hwmMiB <= T.listPeakRssMiB });
  }
  out.push({ what: '`npm run bench` wall time', target: `≤ ${T.benchMinutes} min`, measured: `${(r.elapsedS / 60).toFixed(1)} min`, met: r.elapsedS <= T.benchMinutes * 60 });
  return out;
}

/** The sidecar's CPU per VM at the two largest sizes (wall time per VM is shown too, but it includes the fake and the machine's noise). */
function listGrowth(l: ListCloudResult): { ratio: number; text: string } | undefined {
  if (l.sizes.length < 2) return undefined;
  const mid = l.sizes[Math.max(0, l.sizes.length - 2)]!;
  const last = l.sizes[l.sizes.length - 1]!;
  const r = last.cpuUsPerVm / mid.cpuUsPerVm;
  return {
    ratio: r,
    text: `sidecar CPU ${mid.cpuUsPerVm.toFixed(1)} µs/VM at ${mid.vms.toLocaleString('en')} → ${last.cpuUsPerVm.toFixed(1)} µs/VM at ${last.vms.toLocaleString('en')} (×${r.toFixed(2)} for ×${last.vms / mid.vms} VMs)`,
  };
}

/** One line per section with the figures a reader asks for first (also the basis of the README's lines). */
export function headlines(r: Results): string[] {
  const out: string[] = [];
  const get = (o?: OverheadResult) => o?.ops.find((x) => x.op === 'GetMachineStatus');
  const z = get(r.zero);
  const sl = get(r.slow);
  if (z) out.push(`GetMachineStatus at zero cloud latency: ${ms(z.directP50.median)} ms direct, ${ms(z.sidecarP50.median)} ms through the sidecar: **+${ms(z.addedP50.median)} ms** p50 (all five calls: +${ms(Math.min(...r.zero!.ops.map((o) => o.addedP50.median)))} to +${ms(Math.max(...r.zero!.ops.map((o) => o.addedP50.median)))} ms).`);
  if (sl && r.slow) {
    const ratios = r.slow.ops.map((o) => o.ratioP50.median);
    out.push(`At ${r.slow.latencyMs} ms cloud latency: sidecar/direct p50 **${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)}** over the five calls (GetMachineStatus ${sl.ratioP50.median.toFixed(3)}).`);
  }
  if (r.throughput) {
    const a = r.throughput.agg;
    out.push(`${r.throughput.concurrency} callers, ${num(r.throughput.calls)} GetMachineStatus calls: **${a.sidecarCpu.median.toFixed(2)} CPU s per 1,000 calls** in the sidecar, ${num(a.sidecar.callsPerSecond.median)} calls/s on this machine (direct: ${num(a.direct.callsPerSecond.median)}), p99 ${ms(a.sidecar.p99.median)} ms.`);
  }
  for (const l of r.lists ?? []) {
    const last = l.sizes[l.sizes.length - 1];
    if (last) out.push(`ListMachines, ${l.cloud}, ${num(last.vms)} VMs: ${ms(last.sidecarMs.median)} ms${last.directMs ? ` (direct ${ms(last.directMs.median)} ms)` : ''}, sidecar CPU ${last.cpuUsPerVm.toFixed(1)} µs per VM, peak RSS ${mib(last.hwmMiB)} MiB.`);
  }
  if (r.throughput && r.coldStart) out.push(`Footprint: ${mib(r.throughput.rssIdleMiB)} MiB RSS idle, ${mib(r.throughput.agg.rssMax.median)} MiB at most under the throughput run; cold start to SERVING ${r.coldStart.startMs.median.toFixed(0)} ms.`);
  if (z && r.zero?.emptyP50) out.push(`Baseline of the same run: an empty grpc-js call on loopback ${ms(r.zero.emptyP50.median)} ms p50; GetMachineStatus adds ×${(z.addedP50.median / r.zero.emptyP50.median).toFixed(2)} of it.`);
  if (r.modules) out.push(`Bare Node ${mib(r.modules.bare.rssMiB.median)} MiB RSS; what \`serve\` imports before SERVING adds ${r.modules.own[0] ? mib(r.modules.own[0].addedRssMiB.median) : 'n/a'} MiB (§4b).`);
  if (r.idle?.bridge && r.idle.sidecar) out.push(`Idle beside the bridge (MCM's machine controller, Go, against a kube-apiserver): bridge ${mib(r.idle.bridge.rssMiB)} MiB and ${r.idle.bridge.cpuMsPerS.toFixed(2)} CPU ms/s, sidecar ${mib(r.idle.sidecar.rssMiB)} MiB and ${r.idle.sidecar.cpuMsPerS.toFixed(2)} CPU ms/s (§4c).`);
  else if (r.idle?.note) out.push(`Bridge beside the sidecar, idle: ${r.idle.note}`);
  if (r.bridge) {
    const b = r.bridge.ops.find((x) => x.op === 'GetMachineStatus');
    if (b) out.push(`Through the Go bridge (the code MCM calls): GetMachineStatus +${ms(b.addedP50.median)} ms p50 over a Go client calling the cloud directly${z ? ` (from the Node client: +${ms(z.addedP50.median)} ms)` : ''}; an RPC without cloud work takes ${ms(r.bridge.floorP50.median)} ms.`);
  }
  return out;
}

const ratio = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');
const mib = (v: number) => (Number.isFinite(v) ? v.toFixed(0) : 'n/a');
const num = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en') : 'n/a');
const s = (x: Spread | undefined, f: (v: number) => string = ms) => (x ? fmtSpread(x, f) : 'n/a');

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** added p50 ≈ fixed + perRequest × (cloud requests of the call), least squares over the calls. */
export function decomposition(o: OverheadResult): { fixed: number; perRequest: number; r2: number } {
  const f = linearFit(
    o.ops.map((x) => REQUESTS[x.op]),
    o.ops.map((x) => x.addedP50.median),
  );
  return { fixed: f.intercept, perRequest: f.slope, r2: f.r2 };
}

export function render(r: Results, analysis: string): string {
  const t = targets(r);
  const f = r.facts;
  const parts: string[] = [];
  parts.push(`# Benchmarks: what the sidecar costs on top of the cloud

Written by \`npm run bench\` (bench/run.ts) on ${r.date}; the run took ${(r.elapsedS / 60).toFixed(1)} min. Every figure
is a median over several runs with its spread (min–max over the runs) in parentheses; p50/p99 are per run.

| measured | |
|---|---|
| commit | \`${r.source.commit}\`${r.source.dirty.length ? ` **plus uncommitted changes** to ${r.source.dirty.length} tracked file(s): ${r.source.dirty.slice(0, 8).map((l) => `\`${l.slice(3)}\``).join(', ')}${r.source.dirty.length > 8 ? ', …' : ''}` : ' (clean tree)'} |
| CPU | ${f.cpuModel}, ${f.cores} cores |
| memory | ${f.memoryGiB.toFixed(1)} GiB |
| kernel | Linux ${f.kernel} |
| Node | ${f.node} |
| Go | ${f.go} |
| sidecar node flags | ${r.sidecarNodeFlags ? `${r.sidecarNodeFlags.flags.length ? r.sidecarNodeFlags.flags.map((x) => `\`${x}\``).join(' ') : 'none'}, from ${r.sidecarNodeFlags.source}` : 'not recorded'} |
| load average (1/5/15 min) | at start ${f.loadAtStart.map((v) => v.toFixed(2)).join(' / ')}, at end ${r.loadAtEnd.map((v) => v.toFixed(2)).join(' / ')} |

${f.cores <= 2 ? `**Noise.** ${f.cores} cores are shared by the bench, the sidecar, the fake and whatever else runs (load average at start ${f.loadAtStart[0]!.toFixed(2)} for ${f.cores} cores${f.loadAtStart[0]! > f.cores * 0.5 ? ': other work was running' : ''}). Sidecar and direct calls are therefore interleaved call by call (sections 1, 5) or run by run (2, 3), so noise hits both sides; ratios and differences are steadier than absolute times. Re-run with \`npm run bench\` and compare spreads before reading much into a difference smaller than them.` : ''}
`);

  parts.push(`## How it is measured

\`\`\`
 bench process (tsx bench/run.ts)          sidecar process                           fake process
 ┌─────────────────────────────────┐  gRPC  ┌────────────────────────────────┐ HTTP ┌───────────────────────────┐
 │ @grpc/grpc-js client, 1 channel │──────▶│ node bench/.build/bundle/       │─────▶│ test/fakes/stackit        │
 │                                 │ 127.0.0.1  main.js serve (the bundle)  │      │ (bench/fake-child.ts)     │
 │ direct client: node:http,       │        └────────────────────────────────┘      │ VMs ACTIVE at once, gone  │
 │ keep-alive agent ───────────────┼───────────────────────────────────────────────▶│ at once after DELETE;     │
 └─────────────────────────────────┘                                                 │ latencyMs 0 or 100        │
 Go: bench/.build/bridge-bench (bridge/bench, -tags bench): pkg/grpcdriver.Driver ─▶ sidecar; net/http ─▶ fake       │
                                                                                    └───────────────────────────┘
\`\`\`
- **Sidecar**: the shipped JavaScript, bundled as the images run it (\`node scripts/bundle.mjs bench/.build/bundle\`, what
  \`npm run build:bundle\` writes to dist/bundle; the CPU profile of §6 runs the tsc output instead, whose frames name
  source files), its own process, gRPC on a
  loopback port, \`--poll-interval 1ms\`, \`--log-level info\` (one JSON line per RPC, written to bench/.build/logs/),
  \`/metrics\` on. CPU and memory come from \`/proc/<pid>/stat\` and \`/proc/<pid>/status\` (VmRSS, VmHWM).
- **Direct**: the same cloud HTTP requests the driver makes for that RPC (bench/lib/stackit.ts, e.g. DeleteMachine =
  GET, DELETE, 1 ms wait, GET until 404), parsed as JSON, from the bench process.
- **Fake**: its own process, so neither the sidecar nor the measuring process builds the cloud's responses. The
  waits inside CreateMachine/DeleteMachine are the sidecar's \`--poll-interval\` (1 ms here, 2 s by default): both
  sides wait the same 1 ms, so waiting is not counted as overhead; a slower cloud adds the same polls to both.
- Machines: a ${'`'}STACKIT${'`'} MachineClass (test/support/stackit-harness.ts BASE_SPEC), static-token Secret, ~20 other VMs of the class.
`);

  parts.push(`## Headline

${headlines(r).map((x) => `- ${x}`).join('\n')}

${table(
    ['', 'target', 'measured', ''],
    t.map((x) => [x.what, x.target, x.measured, x.met ? 'met' : '**missed**']),
  )}
`);

  if (r.zero || r.slow) {
    parts.push(`## 1. Overhead per call`);
    for (const o of [r.zero, r.slow]) {
      if (!o) continue;
      parts.push(`### ${o.latencyMs === 0 ? 'Zero cloud latency' : `${o.latencyMs} ms cloud latency`} (${o.concurrency === 1 ? 'one call at a time' : `${o.concurrency} lifecycles at once`}; ${o.runs} runs × ${o.ops[0]?.samplesPerRun ?? 0} calls per call type and side)

${table(
        ['call', 'cloud requests', 'direct p50', 'sidecar p50', 'added p50', 'ratio p50', 'direct p99', 'sidecar p99', 'ratio p99'],
        o.ops.map((x) => [x.op, CLOUD_CALLS[x.op], s(x.directP50), s(x.sidecarP50), s(x.addedP50), s(x.ratioP50, ratio), s(x.directP99), s(x.sidecarP99), s(x.ratioP99, ratio)]),
      )}

Times in ms.${o.emptyP50 ? ` The baseline, an empty unary call to a bare grpc-js server in its own process (bench/empty-grpc-child.ts), interleaved with the calls above: p50 ${s(o.emptyP50)} ms, p99 ${s(o.emptyP99)} ms.` : ''} The floor of an RPC, GetVolumeIDs (one STACKIT PV, no cloud request: the gRPC hop from the bench's client plus the
sidecar's per-call parsing, logging and metrics): p50 ${s(o.floorP50)} ms, p99 ${s(o.floorP99)} ms. Sidecar CPU per RPC over the
run (the lifecycle mix plus GetVolumeIDs): ${s(o.cpuMsPerRpc, (v) => v.toFixed(2))} ms.`);
      if (o.latencyMs > 0 && r.slowAlone) {
        const a = r.slowAlone;
        parts.push(`The same with one lifecycle at a time (nothing else in flight; ${a.runs} run × ${a.ops[0]?.samplesPerRun ?? 0} calls per call type and side):

${table(
          ['call', 'direct p50', 'sidecar p50', 'added p50', 'ratio p50'],
          a.ops.map((x) => [x.op, s(x.directP50), s(x.sidecarP50), s(x.addedP50), s(x.ratioP50, ratio)]),
        )}

Floor (GetVolumeIDs) p50 ${s(a.floorP50)} ms; sidecar CPU per RPC ${s(a.cpuMsPerRpc, (v) => v.toFixed(2))} ms.`);
      }
      if (o.latencyMs === 0) {
        const d = decomposition(o);
        parts.push(`Fit over the five calls: added p50 ≈ **${ms(d.fixed)} ms per RPC + ${ms(d.perRequest)} ms per cloud request** (R² ${d.r2.toFixed(2)}).`);
      }
    }
  }

  if (r.throughput) {
    const tp = r.throughput;
    const a = tp.agg;
    parts.push(`## 2. Throughput at MCM's concurrency

${tp.concurrency} callers share ${num(tp.calls)} GetMachineStatus calls (each caller its own Machine), zero cloud latency; ${tp.sidecar.length} runs per side, sidecar and direct alternating.

${table(
      ['', 'calls/s', 'p50 ms', 'p99 ms', 'sidecar CPU s / 1,000 calls', 'sidecar waited for a CPU, s / 1,000', 'fake CPU s / 1,000', 'bench client CPU s / 1,000'],
      [
        ['through the sidecar', s(a.sidecar.callsPerSecond, num), s(a.sidecar.p50), s(a.sidecar.p99), s(a.sidecarCpu, (v) => v.toFixed(2)), s(a.sidecarWait, (v) => v.toFixed(2)), s(a.sidecar.fakeCpu, (v) => v.toFixed(2)), s(a.sidecar.clientCpu, (v) => v.toFixed(2))],
        ['direct', s(a.direct.callsPerSecond, num), s(a.direct.p50), s(a.direct.p99), '–', '–', s(a.direct.fakeCpu, (v) => v.toFixed(2)), s(a.direct.clientCpu, (v) => v.toFixed(2))],
      ],
    )}

With ${f.cores} cores, the three processes (and anything else running) compete for CPU: calls/s here is bounded by the machine
("waited for a CPU" is the time the sidecar's event loop was runnable but not running, from /proc/<pid>/schedstat), and
**CPU seconds per 1,000 calls** is the figure that carries over: ${a.sidecarCpu.median.toFixed(2)} s per 1,000 ⇒ one core serves
~${num(1000 / a.sidecarCpu.median)} GetMachineStatus calls/s, all a single-threaded sidecar can do. *(Fixed explanation, not measured:*
*MCM sends far fewer; each of its workers waits for the cloud between calls, so its call rate is its worker count divided by the cloud's latency.)*`);
  }

  if (r.lists) {
    parts.push(`## 3. ListMachines scale

One MachineClass with N VMs in the fake (every VM carries the driver's markers for this class and cluster, so all N are listed); a fresh sidecar process per
size, so VmHWM is that size's peak. "direct" is the same list request from the bench process (node:http and JSON.parse): most of a
list's wall time is the fake building and serialising the answer, which both sides wait for. "own µs/VM" = (sidecar − direct) / N.
Sidecar CPU comes from /proc in 10 ms ticks, so it is coarse at 1,000 VMs; it is the sidecar's own work, whatever else the
machine does, and the linearity check uses it. "fake CPU" is what the fake spent per list through the sidecar.
"through the Go bridge" is one ListMachines from Go (bridge/bench) against the same sidecar.`);
    for (const l of r.lists) {
      parts.push(`### ${l.cloud} (pagination: ${l.pagination})

${table(
        ['VMs', 'direct ms', 'sidecar ms', 'µs/VM', 'own µs/VM', 'sidecar CPU ms', 'sidecar CPU µs/VM', 'fake CPU ms', 'VmHWM idle → peak MiB', 'through the Go bridge'],
        l.sizes.map((x) => [
          num(x.vms),
          s(x.directMs),
          s(x.sidecarMs),
          x.usPerVm.toFixed(1),
          x.ownUsPerVm !== undefined ? x.ownUsPerVm.toFixed(1) : 'n/a',
          s(x.sidecarCpuMs),
          x.cpuUsPerVm.toFixed(1),
          s(x.fakeCpuMs),
          `${mib(x.idleHwmMiB)} → ${mib(x.hwmMiB)}`,
          x.bridge ? (x.bridge.ms !== undefined ? `${ms(x.bridge.ms)} ms` : `fails: ${x.bridge.error?.slice(0, 160)}`) : 'n/a',
        ]),
      )}
${l.fit ? `\nLeast squares over the sizes, sidecar CPU per list ≈ ${ms(l.fit.interceptMs)} ms + ${l.fit.slopeUsPerVm.toFixed(1)} µs × VMs (R² ${l.fit.r2.toFixed(4)}).` : ''}${l.note ? `\n\n${l.note}` : ''}`);
    }
    if (r.listNote) parts.push(r.listNote);
  }

  if (r.throughput || r.coldStart) {
    parts.push(`## 4. Footprint`);
    const rows: string[][] = [];
    if (r.throughput) {
      const tp = r.throughput;
      rows.push(['RSS idle (started, 1 s, nothing served)', `${mib(tp.rssIdleMiB)} MiB`]);
      rows.push([`RSS under the throughput run (median of samples every 50 ms)`, `${s(tp.agg.rssMedian, mib)} MiB`]);
      rows.push(['RSS under the throughput run (max)', `${s(tp.agg.rssMax, mib)} MiB`]);
      rows.push(['VmHWM after all throughput runs', `${mib(tp.hwmMiB)} MiB`]);
      rows.push(['RSS 2 s after the load', `${mib(tp.rssIdleAfterMiB)} MiB`]);
      if (tp.afterLoad) {
        const a = tp.afterLoad;
        const spaces = Object.entries(a.heap.spacesMiB).filter(([, v]) => v >= 0.5).map(([k, v]) => `${k.replace(/_space$/, '')} ${mib(v)}`).join(', ');
        rows.push([
          'RSS right after the last sidecar run, split',
          `${mib(a.rssMiB)} MiB: anonymous ${mib(a.anonMiB)}, file-backed ${mib(a.fileMiB)}; V8 heap committed ${mib(a.heap.totalMiB)} (used ${mib(a.heap.usedMiB)}; ${spaces}), external ${mib(a.heap.externalMiB)}; anonymous outside the V8 heap ${mib(a.anonMiB - a.heap.totalMiB)} MiB`,
        ]);
      }
    }
    if (r.coldStart) {
      const c = r.coldStart;
      rows.push([`cold start: spawn → gRPC health SERVING (${c.runs} runs)`, `${s(c.startMs, (v) => v.toFixed(0))} ms`]);
      rows.push(['RSS at SERVING', `${s(c.rssAtServingMiB, mib)} MiB`]);
      rows.push(['RSS 1 s after SERVING', `${s(c.rssIdleMiB, mib)} MiB`]);
    }
    parts.push(table(['', ''], rows));
    if (r.coldStart) parts.push(`Cold start runs: ${r.coldStart.startAll.map((v) => v.toFixed(0)).join(', ')} ms (node, the bundle as it ships; \`npm run serve\` through tsx is slower).`);
  }

  if (r.modules) {
    const m = r.modules;
    const row = (c: (typeof m.dependencies)[number]) => [c.module, s(c.rssMiB, (v) => v.toFixed(1)), s(c.addedRssMiB, (v) => v.toFixed(1)), s(c.addedHeapMiB, (v) => v.toFixed(2)), s(c.importMs, (v) => v.toFixed(0))];
    parts.push(`### 4b. Start-up cost per module

A fresh \`node --expose-gc\` per module and run (${m.runs} runs each) imports that one module and reports \`process.memoryUsage()\`
before and after, each after a full GC; "import ms" is the import's wall time on this machine (loaded: see the load average).
Dependencies share some of their own dependencies, so their rows do not add up to the sidecar's.

${table(['module', 'RSS after, MiB', 'RSS added, MiB', 'heap added, MiB', 'import ms'], [row(m.bare), ...m.own.map(row), ...m.dependencies.map(row)])}

What the sidecar imports before SERVING (\`serve\`) adds ${m.own[0] ? `${m.own[0].addedRssMiB.median.toFixed(1)} MiB RSS and ${m.own[0].addedHeapMiB.median.toFixed(1)} MiB heap to bare Node's ${m.bare.rssMiB.median.toFixed(1)} MiB` : 'n/a'};
a cloud adapter is imported when the first class of its cloud arrives (src/providers/index.ts); its row is what it adds on top of serve.`);
  }

  if (r.idle) {
    const i = r.idle;
    parts.push(`### 4c. Idle: the bridge beside the sidecar (what one shoot pays)

The bridge (\`bridge/cmd/machine-controller\`: MCM's machine controller with the gRPC driver, which is what STACKIT's Go provider
process is, minus the provider package) watching a kube-apiserver started by test/e2e/controlplane, forwarding to a sidecar that
talks to the same fake; no Machines to reconcile. CPU over an idle window from /proc (10 ms ticks: over this run's ${i.idleS.toFixed(0)} s window a
figure is good to ${(10 / Math.max(1, i.idleS)).toFixed(1)} ms per s), RSS at its end.`);
    if (i.note) parts.push(i.note);
    if (i.bridge && i.sidecar) {
      parts.push(`${table(
        ['process', 'RSS MiB', 'VmHWM MiB', `CPU ms per s (over ${i.idleS.toFixed(0)} s)`],
        [
          ['bridge (Go, MCM machine controller)', mib(i.bridge.rssMiB), mib(i.bridge.hwmMiB), i.bridge.cpuMsPerS.toFixed(2)],
          ['sidecar (Node)', mib(i.sidecar.rssMiB), mib(i.sidecar.hwmMiB), i.sidecar.cpuMsPerS.toFixed(2)],
          ['sidecar ÷ bridge', `×${(i.sidecar.rssMiB / i.bridge.rssMiB).toFixed(2)}`, '', `×${(i.sidecar.cpuMsPerS / i.bridge.cpuMsPerS).toFixed(2)}`],
        ],
      )}

Per shoot, this design costs the bridge plus the sidecar, ${mib(i.bridge.rssMiB + i.sidecar.rssMiB)} MiB RSS idle; a Go provider costs about the bridge's
${mib(i.bridge.rssMiB)} MiB plus its provider package, so the sidecar is the difference: +${mib(i.sidecar.rssMiB)} MiB (×${((i.bridge.rssMiB + i.sidecar.rssMiB) / i.bridge.rssMiB).toFixed(2)} the bridge alone).`);
    }
  }

  if (r.bridge || r.bridgeNote) {
    parts.push(`## 5. Through the Go bridge`);
    if (r.bridgeNote) parts.push(r.bridgeNote);
    if (r.bridge) {
      const b = r.bridge;
      const node = new Map(r.zero?.ops.map((o) => [o.op, o]) ?? []);
      parts.push(`Measured in Go (bridge/bench): MCM's \`driver.Driver\` calls on \`pkg/grpcdriver\` (JSON encoding of Machine and
MachineClass, one \`grpc.ClientConn\` from \`NewClientConn\`, the call deadline), next to a Go net/http client making the same
cloud requests; zero cloud latency, one call at a time; ${b.runs} runs × ${b.iterations} calls per call type and side. Times in ms.

${table(
        ['call', 'Go direct p50', 'through the bridge p50', 'added p50', 'ratio p50', 'Go direct p99', 'bridge p99', 'for comparison: Node client → sidecar p50 (§1)'],
        b.ops.map((x) => [x.op, s(x.directP50), s(x.bridgeP50), s(x.addedP50), s(x.ratioP50, ratio), s(x.directP99), s(x.bridgeP99), node.get(x.op) ? s(node.get(x.op)!.sidecarP50) : 'n/a']),
      )}

The floor, GetVolumeIDs through the bridge (no cloud request): p50 ${s(b.floorP50)} ms, p99 ${s(b.floorP99)} ms.

Throughput through the bridge: ${b.throughput.concurrency} goroutines, ${num(b.throughput.calls)} GetMachineStatus calls: ${s(b.throughput.callsPerSecond, num)} calls/s, p50 ${s(b.throughput.p50)} ms, p99 ${s(b.throughput.p99)} ms, sidecar CPU ${s(b.throughput.sidecarCpu, (v) => v.toFixed(2))} s per 1,000 calls.`);
    }
  }

  const profiles = [...(r.profiles ?? []), ...(r.slowProfile ? [r.slowProfile] : [])];
  if (profiles.length) {
    parts.push(`## 6. Where the sidecar's CPU goes

\`node --cpu-prof\` on the sidecar under GetMachineStatus calls, the profile cut to the measured window (start-up and warm-up left
out). "Share" is of the main thread's non-idle time. Components: self time of a package or source file, with Node internals and
native code counted for the nearest JavaScript that called them. "Process CPU" (from /proc) also counts V8's and libuv's other
threads and the kernel's work for the process; "main thread busy" is what the profile saw.`);
    for (const p of profiles) {
      parts.push(`### ${p.latencyMs ? `${p.latencyMs} ms cloud latency` : 'Zero cloud latency'}, ${p.concurrency === 1 ? 'one call at a time' : `${p.concurrency} callers`}: ${num(p.calls)} calls; per call ${p.cpuMsPerCall.toFixed(2)} ms process CPU, ${(p.summary.busyMs / p.calls).toFixed(2)} ms main thread busy

By what the work is for (each sample counts for the innermost frame of its stack that a category in bench/lib/cpu-profile.ts claims):

${table(
        ['work', 'share', 'ms per call'],
        (p.summary.categories ?? []).map((c) => [c.name, `${(c.share * 100).toFixed(1)} %`, (c.selfMs / p.calls).toFixed(3)]),
      )}

By component (self time of a package or file):

${table(
        ['component', 'share', 'ms per call'],
        p.summary.components.slice(0, 12).map((c) => [c.name, `${(c.share * 100).toFixed(1)} %`, ((c.selfMs / p.calls)).toFixed(3)]),
      )}

Top functions (self time):

${table(
        ['function', 'where', 'share'],
        p.summary.functions.slice(0, 12).map((c) => [`\`${c.name}\``, c.where ? `\`${c.where}\`` : '', `${(c.share * 100).toFixed(1)} %`]),
      )}

Profile: \`${p.file}\` (open in Chrome DevTools → Performance).`);
    }
  }

  if (r.httpClient) {
    const h = r.httpClient;
    parts.push(`### 6b. The cloud HTTP client alone

The driver's \`CloudHttpClient\` (src/http/cloud-http-client.ts: got with the bearer hook, retry policy, timeout, metrics, as the
STACKIT adapter builds it) against a bare node:http request with a keep-alive agent (bench/lib/stackit.ts), one GET server at a
time against the same fake, in alternating blocks in the bench process; ${h.runs} runs × ${num(h.requests)} requests each.

${table(
      ['', 'p50 ms per request', 'CPU ms per request (client process)'],
      [
        ['CloudHttpClient (got)', s(h.got.p50, (v) => v.toFixed(3)), s(h.got.cpuMs, (v) => v.toFixed(3))],
        ['node:http', s(h.nodeHttp.p50, (v) => v.toFixed(3)), s(h.nodeHttp.cpuMs, (v) => v.toFixed(3))],
        ['difference', s(h.addedP50, (v) => v.toFixed(3)), s(h.addedCpuMs, (v) => v.toFixed(3))],
      ],
    )}`);
  }

  parts.push(analysis);

  parts.push(`## Re-running

\`\`\`sh
npm run bench                        # everything, ~${Math.ceil(r.elapsedS / 60)} min; writes bench/RESULTS.md
npm run bench -- --quick             # a smoke run with tiny counts; writes bench/.build/RESULTS.quick.md
npm run bench -- --only zero,slow    # sections: modules, zero, slow, throughput, list, cold, idle, bridge, profile, client
\`\`\`
Settings of this run: \`${JSON.stringify(r.config)}\`.
Build: tsc ${(r.build.tscMs / 1000).toFixed(1)} s${r.build.typeErrors.length ? ` (${r.build.typeErrors.length} type errors in files being written by others at the time; tsc emitted anyway)` : ''}${r.build.bundleMs !== undefined ? `, bundle ${(r.build.bundleMs / 1000).toFixed(1)} s` : ''}${r.build.goMs !== undefined ? `, go build ${(r.build.goMs / 1000).toFixed(1)} s` : ''}.
`);
  return parts.join('\n\n');
}
