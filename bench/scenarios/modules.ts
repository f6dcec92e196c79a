// 0. What starting costs, per module: a fresh `node` per module and run imports it alone and reports
// process.memoryUsage() before and after (after a full GC each time) and the import's wall time. The
// first row is bare Node (nothing imported): the baseline every RSS figure is compared with.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BUILD_DIR, ROOT } from '../lib/sidecar.js';
import { spread, type Spread } from '../lib/stats.js';

export interface ModuleCost {
  /** What was imported: a package name, or a file of the shipped JavaScript (bench/.build). */
  module: string;
  /** RSS of the process after the import, MiB (bare Node: with nothing imported). */
  rssMiB: Spread;
  /** RSS the import added, MiB. */
  addedRssMiB: Spread;
  /** V8 heap in use the import added (after a full GC), MiB. */
  addedHeapMiB: Spread;
  importMs: Spread;
}

export interface ModulesResult {
  runs: number;
  bare: ModuleCost;
  /** Each dependency alone (they share some of their own dependencies, so the rows do not add up). */
  dependencies: ModuleCost[];
  /** Our modules: what `serve` imports at start, and each cloud adapter on top of it (loaded on its first class). */
  own: ModuleCost[];
}

export const DEPENDENCIES = [
  '@grpc/grpc-js',
  '@grpc/proto-loader',
  '@grpc/reflection',
  'grpc-health-check',
  'got',
  'winston',
  'ajv/dist/2020.js',
  'ajv-formats',
  'prom-client',
  'jose',
  'commander',
  'yaml',
];

const SERVE = 'src/cli/serve.js';
/** Each adapter is measured on top of serve (imported first, not counted): what its first class adds to a running sidecar. */
const ADAPTERS: Record<string, string> = {
  'STACKIT adapter, on top of serve': 'src/providers/stackit/stackit-provider.js',
  'CloudSigma adapter, on top of serve': 'src/providers/cloudsigma/cloudsigma-provider.js',
  'VPSie adapter, on top of serve': 'src/providers/vpsie/vpsie-provider.js',
};
/** The cost of any first dynamic import (the module loader's own work), so a dependency's row can be read against it. */
const EMPTY_MODULE = 'data:text/javascript,export default 1';

const PROBE = `
const gc = globalThis.gc;
if (process.env.PROBE_BASE) await import(process.env.PROBE_BASE);
gc(); const before = process.memoryUsage();
const t0 = performance.now();
if (process.env.PROBE_MODULE) await import(process.env.PROBE_MODULE);
const ms = performance.now() - t0;
gc(); const after = process.memoryUsage();
process.stdout.write(JSON.stringify({ ms, rss0: before.rss, rss1: after.rss, heap0: before.heapUsed, heap1: after.heapUsed }), () => process.exit(0));
`;

interface Probe {
  ms: number;
  rss0: number;
  rss1: number;
  heap0: number;
  heap1: number;
}

function probe(spec: string | undefined, base?: string): Probe {
  const env: NodeJS.ProcessEnv = { ...process.env, PROBE_MODULE: spec ?? '', PROBE_BASE: base ?? '', LOG_LEVEL: 'info' };
  delete env.NODE_OPTIONS;
  const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', PROBE], { cwd: ROOT, env, encoding: 'utf8' });
  return JSON.parse(out) as Probe;
}

const MiB = 1024 * 1024;

function measure(name: string, spec: string | undefined, runs: number, base?: string): ModuleCost {
  const ps = Array.from({ length: runs }, () => probe(spec, base));
  return {
    module: name,
    rssMiB: spread(ps.map((p) => p.rss1 / MiB)),
    addedRssMiB: spread(ps.map((p) => (p.rss1 - p.rss0) / MiB)),
    addedHeapMiB: spread(ps.map((p) => (p.heap1 - p.heap0) / MiB)),
    importMs: spread(ps.map((p) => p.ms)),
  };
}

export function runModules(runs: number): ModulesResult {
  const bare = measure('bare Node (nothing imported)', undefined, runs);
  const url = (file: string) => pathToFileURL(join(BUILD_DIR, file)).href;
  const dependencies = [measure('an empty module (the loader\'s own first-import cost)', EMPTY_MODULE, runs), ...DEPENDENCIES.map((d) => measure(d, d, runs))];
  const own = [
    measure('serve (src/cli/serve.js: what the sidecar imports before SERVING)', url(SERVE), runs),
    ...Object.entries(ADAPTERS).map(([name, file]) => measure(name, url(file), runs, url(SERVE))),
  ];
  process.stdout.write(`  bare Node ${bare.rssMiB.median.toFixed(0)} MiB; serve imports +${own[0]!.addedRssMiB.median.toFixed(0)} MiB RSS\n`);
  return { runs, bare, dependencies, own };
}
