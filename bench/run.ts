// `npm run bench`: the sidecar's cost on top of the cloud, as ratios measured side by side
// (issue 8). Writes bench/RESULTS.md. See bench/README.md for the layout and the knobs.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { analysis } from './lib/analysis.js';
import { startFake } from './lib/fake.js';
import { machineFacts } from './lib/proc.js';
import { render, type Results } from './lib/report.js';
import { BUILD_DIR, buildSidecar, ROOT, SIDECAR_NODE_FLAGS } from './lib/sidecar.js';
import { bridgeList, buildBridgeBench, runBridge } from './scenarios/bridge.js';
import { runColdStart } from './scenarios/cold-start.js';
import { runBridgeIdle } from './scenarios/bridge-idle.js';
import { runModules } from './scenarios/modules.js';
import { startEmptyGrpc } from './lib/empty-grpc.js';
import { otherClouds, runListScaleE2eCloud, runListScaleStackit, type BridgeClass } from './scenarios/list-scale.js';
import { runOverhead } from './scenarios/overhead.js';
import { runHttpClient } from './scenarios/http-client.js';
import { runProfile } from './scenarios/profile.js';
import { runThroughput } from './scenarios/throughput.js';

const SECTIONS = ['modules', 'zero', 'slow', 'throughput', 'list', 'cold', 'idle', 'bridge', 'profile', 'client'] as const;
type Section = (typeof SECTIONS)[number];

const args = process.argv.slice(2);
const quick = args.includes('--quick') || process.env.BENCH_QUICK === '1';
const onlyArg = args[args.indexOf('--only') + 1];
const only = args.includes('--only') && onlyArg ? (onlyArg.split(',') as Section[]) : [...SECTIONS];
for (const s of only) if (!SECTIONS.includes(s)) throw new Error(`--only: unknown section ${s}; known: ${SECTIONS.join(', ')}`);
const want = (s: Section) => only.includes(s);

const config = quick
  ? {
      modules: { runs: 1 },
      idle: { idleS: 5, settleS: 2 },
      zero: { runs: 2, iterations: 20, warmup: 5 },
      slow: { runs: 1, iterations: 2, warmup: 1, concurrency: 4, latencyMs: 100, jitterMs: 200 },
      slowAlone: { runs: 1, iterations: 1, warmup: 1 },
      slowProfile: { calls: 10, warmup: 5 },
      throughput: { runs: 1, calls: 1_000, concurrency: 50, warmup: 200 },
      list: { sizes: [100, 1_000], reps: 2 },
      cold: { runs: 2 },
      bridge: { runs: 1, iterations: 20, warmup: 5, calls: 1_000, concurrency: 50 },
      profile: { calls: 500 },
      client: { runs: 1, requests: 400, block: 100 },
    }
  : {
      modules: { runs: 2 },
      idle: { idleS: 20, settleS: 5 },
      zero: { runs: 5, iterations: 300, warmup: 30 },
      slow: { runs: 3, iterations: 8, warmup: 2, concurrency: 16, latencyMs: 100, jitterMs: 200 },
      slowAlone: { runs: 1, iterations: 8, warmup: 1 },
      slowProfile: { calls: 100, warmup: 20 },
      throughput: { runs: 3, calls: 10_000, concurrency: 50, warmup: 1_000 },
      list: { sizes: [1_000, 10_000, 50_000], reps: 5 },
      cold: { runs: 5 },
      bridge: { runs: 3, iterations: 200, warmup: 20, calls: 10_000, concurrency: 50 },
      profile: { calls: 3_000 },
      client: { runs: 3, requests: 3_000, block: 250 },
    };

const started = performance.now();
/** The commit measured, and whether the work tree had changes on top of it (they are measured too). */
function sourceState(): { commit: string; dirty: string[] } {
  const git = (args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' });
  try {
    return { commit: git(['rev-parse', 'HEAD']).trim(), dirty: git(['status', '--porcelain', '--untracked-files=no']).split('\n').filter(Boolean) };
  } catch {
    return { commit: 'unknown (not a git checkout)', dirty: [] };
  }
}

const log = (m: string) => process.stdout.write(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${m}\n`);

const results: Results = {
  facts: machineFacts(),
  source: sourceState(),
  sidecarNodeFlags: SIDECAR_NODE_FLAGS,
  loadAtEnd: [],
  date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  elapsedS: 0,
  config: { quick, sections: only, ...config },
  build: { tscMs: 0, bundleMs: 0, typeErrors: [] },
};

log('building the sidecar (tsc → bench/.build, scripts/bundle.mjs → bench/.build/bundle)');
const built = buildSidecar();
results.build.tscMs = built.ms;
results.build.bundleMs = built.bundleMs;
if (built.typeErrors.length) log(`tsc reported ${built.typeErrors.length} type errors (emitted anyway): ${built.typeErrors.slice(0, 3).join(' | ')}`);

let haveGo = results.facts.go !== 'not found';
if (haveGo && (want('bridge') || want('list'))) {
  log('building bridge/bench (go build -tags bench)');
  try {
    results.build.goMs = buildBridgeBench().ms;
  } catch (err) {
    haveGo = false;
    results.bridgeNote = `The Go bench did not build, so this section is empty: ${(err as Error).message.slice(0, 500)}`;
  }
} else if (!haveGo) {
  results.bridgeNote = 'No Go toolchain on this machine: section skipped.';
}

if (want('modules')) {
  log('0. start-up cost per module (a fresh node per module and run)');
  results.modules = runModules(config.modules.runs);
}

const fake = await startFake(0);
try {
  if (want('zero')) {
    log('1. overhead per call, zero cloud latency (with an empty grpc-js call as the baseline)');
    const empty = await startEmptyGrpc();
    try {
      results.zero = await runOverhead({ fake, ...config.zero, concurrency: 1, pollIntervalMs: 1, label: 'zero', empty });
    } finally {
      await empty.close();
    }
  }
  if (want('slow')) {
    log(`1. overhead per call, ${config.slow.latencyMs} ms cloud latency`);
    const slowFake = await startFake(config.slow.latencyMs);
    try {
      results.slow = await runOverhead({ fake: slowFake, ...config.slow, pollIntervalMs: 1, label: 'slow' });
      log(`1. the same, one lifecycle at a time, and a CPU profile of it`);
      results.slowAlone = await runOverhead({ fake: slowFake, ...config.slowAlone, concurrency: 1, pollIntervalMs: 1, label: 'slow-alone' });
      if (want('profile')) results.slowProfile = await runProfile(slowFake, { ...config.slowProfile, concurrency: 1 });
    } finally {
      await slowFake.close();
    }
  }
  if (want('throughput')) {
    log('2./4. throughput and footprint under load');
    results.throughput = await runThroughput(fake, config.throughput);
  }
  if (want('cold')) {
    log('4. cold start');
    results.coldStart = await runColdStart(fake.url, config.cold.runs);
  }
  if (want('idle')) {
    log('5b. idle footprint: the bridge (MCM machine controller) beside the sidecar, against a kube-apiserver');
    results.idle = haveGo ? await runBridgeIdle(fake, config.idle) : { idleS: 0, note: 'Not measured: no Go toolchain to build the bridge.' };
  }
  if (want('bridge') && haveGo) {
    log('5. through the Go bridge');
    results.bridge = await runBridge(fake, config.bridge);
  }
  if (want('profile')) {
    log('6. CPU profiles');
    results.profiles = [
      await runProfile(fake, { calls: config.profile.calls, concurrency: 1, warmup: 1_000 }),
      await runProfile(fake, { calls: config.profile.calls, concurrency: 50, warmup: 1_000 }),
    ];
  }
  if (want('client')) {
    log('6b. the cloud HTTP client alone');
    results.httpClient = await runHttpClient(fake, config.client);
  }
} finally {
  await fake.close();
}

if (want('list')) {
  log('3. ListMachines scale');
  const reps = (vms: number) => (vms >= 50_000 ? Math.min(3, config.list.reps) : config.list.reps);
  const bridge = haveGo ? (target: string, cls?: BridgeClass) => bridgeList(target, cls) : undefined;
  results.lists = [await runListScaleStackit({ sizes: config.list.sizes, reps, bridgeList: bridge })];
  const others = await otherClouds();
  for (const cloud of others.clouds) {
    log(`3. ListMachines scale, ${cloud.provider}`);
    try {
      results.lists.push(await runListScaleE2eCloud(cloud, { sizes: config.list.sizes, reps, bridgeList: bridge }));
    } catch (err) {
      results.lists.push({ cloud: cloud.provider, pagination: 'n/a', sizes: [], note: `failed: ${(err as Error).message}` });
    }
  }
  const listed = new Set(results.lists.map((l) => l.cloud.toUpperCase()));
  const missing = ['CLOUDSIGMA', 'VPSIE'].filter((c) => !listed.has(c));
  if (missing.length) {
    results.listNote = `**Not measured yet: ${missing.join(', ')}.** The scale run takes every cloud of the e2e suite's list (test/e2e/clouds/index.ts, \`ALL_CLOUDS\`: a CloudDescriptor gives the sidecar environment, Secret, providerSpec and a fake that can seed VMs with the driver's markers), and at the time of this run ${others.note ?? 'it listed no such cloud'}. Once a cloud's adapter is registered in src/providers/index.ts and its descriptor is in ALL_CLOUDS, \`npm run bench -- --only list\` measures it with no change here (paginated listing included, as its fake serves it); a direct baseline needs a direct list client like bench/lib/stackit.ts.`;
  }
}

results.elapsedS = (performance.now() - started) / 1000;
results.loadAtEnd = loadavg();
const out = quick ? join(BUILD_DIR, 'RESULTS.quick.md') : join(ROOT, 'bench', 'RESULTS.md');
writeFileSync(out, render(results, analysis(results)));
writeFileSync(join(BUILD_DIR, quick ? 'results.quick.json' : 'results.json'), JSON.stringify(results, null, 2));
log(`wrote ${out.replace(`${ROOT}/`, '')}`);
