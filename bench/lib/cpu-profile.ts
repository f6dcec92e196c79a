// Summarises a V8 .cpuprofile (written by `node --cpu-prof`): self time per function and per
// component (a package in node_modules, a file of src/, Node internals, GC), as shares of the
// time the process was not idle.
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileRow {
  name: string;
  where: string;
  selfMs: number;
  share: number;
}

export interface ProfileSummary {
  busyMs: number;
  idleMs: number;
  /** Self time per function. */
  functions: ProfileRow[];
  /** Self time per package / source file, Node internals and native code counted for their nearest JavaScript caller. */
  components: ProfileRow[];
  /**
   * The same time by what the work is for (CATEGORIES): each sample counts for the innermost frame of its stack
   * that a category claims, so Node internals and native code count for the work that asked for them.
   */
  categories: ProfileRow[];
}

/**
 * What a frame's work is for, first match wins, tried from the sampled frame outwards. The file names are
 * the driver's own (src/, as compiled to bench/.build) and its dependencies' packages.
 */
export const CATEGORIES: { name: string; match: (fn: string, url: string) => boolean }[] = [
  { name: 'live-secret registration and redaction (src/observability/live-secrets.js)', match: (_f, u) => u.includes('/src/observability/live-secrets.js') },
  { name: 'schema validation (ajv, src/driver/validation.js)', match: (_f, u) => /node_modules\/ajv(-formats)?\/|\/src\/driver\/validation\.js/.test(u) },
  { name: 'hashing (session key, credential: node:crypto)', match: (f, u) => u.startsWith('node:internal/crypto/') || (u === '' && /^(Hash|update|digest)$/.test(f)) },
  { name: 'session and client setup (open, session cache, lazy load)', match: (f, u) => /\/src\/driver\/(session-cache|lazy-provider|provider-registry)\.js/.test(u) || (/\/src\/providers\/[^/]+\/[^/]+-provider\.js/.test(u) && /^(open|http|decodeSecret|checkName|collect|parseKey)$/.test(f)) },
  { name: 'request JSON parsing (Machine, MachineClass: src/driver/machine-request.js)', match: (_f, u) => u.includes('/src/driver/machine-request.js') },
  { name: 'log line (winston, logform, src/observability/logger.js)', match: (_f, u) => /node_modules\/(winston|winston-transport|logform|triple-beam|safe-stable-stringify|fecha|@colors|colors|readable-stream)\/|\/src\/observability\/logger\.js/.test(u) },
  { name: 'metrics (prom-client, src/observability/metrics.js)', match: (_f, u) => /node_modules\/(prom-client|tdigest|bintrees)\/|\/src\/observability\/metrics\.js/.test(u) },
  { name: 'cloud response JSON parsing (CloudHttpClient.parseBody)', match: (f, u) => u.includes('/src/http/cloud-http-client.js') && f === 'parseBody' },
  { name: "got's per-request work (options, hooks, streams)", match: (_f, u) => /node_modules\/(got|@sindresorhus|@szmarczak|p-cancelable|cacheable-request|cacheable-lookup|http2-wrapper|defer-to-connect|lowercase-keys|responselike|decompress-response|mimic-response|form-data-encoder|get-stream|normalize-url|keyv|byte-counter|chunk-data|type-fest)\//.test(u) },
  { name: 'cloud HTTP client, rest (src/http/)', match: (_f, u) => u.includes('/src/http/') },
  { name: 'node:http client (agent, sockets, parser)', match: (_f, u) => /^node:(_http_|http$|net$|internal\/http|internal\/net)/.test(u) },
  { name: 'gRPC server (grpc-js, node:http2, protobufjs)', match: (_f, u) => /node_modules\/(@grpc\/grpc-js|@grpc\/proto-loader|protobufjs|@protobufjs)\/|^node:(internal\/)?http2/.test(u) },
  { name: 'driver (src/driver, src/server, src/providers)', match: (_f, u) => /\/src\/(driver|server|providers)\//.test(u) },
  { name: 'garbage collector', match: (f, u) => u === '' && f === '(garbage collector)' },
  { name: 'socket writes (syscalls)', match: (f, u) => u === '' && /^write(Latin1String|Utf8String|Buffer|v)$/.test(f) },
];

/** CLOCK_MONOTONIC in µs: the clock V8 stamps profile samples with, so a window can be cut out of a profile. */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/**
 * `window` (monotonic µs, see monotonicUs) keeps only the samples taken while the workload ran,
 * leaving out the process's start-up and shutdown.
 */
export function summariseProfile(path: string, root: string, window?: { fromUs: number; toUs: number }, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (window && (t < window.fromUs || t > window.toUs)) continue;
    const id = profile.samples[i]!;
    // timeDeltas[i] is the time before sample i; attribute the following interval to it.
    const dt = profile.timeDeltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
  }
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  /** The nearest frame (the node itself or a caller) in a package or in our code: Node internals and native work count for the JavaScript that asked for them. */
  const owner = (id: number): ProfileNode => {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur)!;
      const url = n.callFrame.url;
      if (url && !url.startsWith('node:')) return n;
    }
    return byId.get(id)!;
  };
  const categoryOf = (id: number): string => {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const { functionName, url } = byId.get(cur)!.callFrame;
      const c = CATEGORIES.find((k) => k.match(functionName, url));
      if (c) return c.name;
    }
    return 'other (V8, event loop, Node internals without a claimed caller)';
  };
  const cat = new Map<string, number>();
  let idleUs = 0;
  const fn = new Map<string, { name: string; where: string; us: number }>();
  const comp = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const where = shortUrl(url, root);
    const key = `${functionName}@${url}:${lineNumber}`;
    const entry = fn.get(key) ?? { name: functionName || '(anonymous)', where: url ? `${where}:${lineNumber + 1}` : '', us: 0 };
    entry.us += us;
    fn.set(key, entry);
    const o = owner(id).callFrame;
    const c = component(o.functionName, o.url, root);
    comp.set(c, (comp.get(c) ?? 0) + us);
    const k = categoryOf(id);
    cat.set(k, (cat.get(k) ?? 0) + us);
  }
  const busyUs = [...fn.values()].reduce((a, e) => a + e.us, 0);
  const rows = (entries: { name: string; where: string; us: number }[], n = top) =>
    entries
      .sort((a, b) => b.us - a.us)
      .slice(0, n)
      .map((e) => ({ name: e.name, where: e.where, selfMs: e.us / 1000, share: e.us / busyUs }));
  return {
    busyMs: busyUs / 1000,
    idleMs: idleUs / 1000,
    functions: rows([...fn.values()]),
    components: rows([...comp.entries()].map(([name, us]) => ({ name, where: '', us })), 60),
    categories: rows([...cat.entries()].map(([name, us]) => ({ name, where: '', us })), 60),
  };
}

function shortUrl(url: string, root: string): string {
  return url
    .replace(/^file:\/\//, '')
    // Any node_modules, not only the root's: a worktree may link to another checkout's (its absolute path must not reach the report).
    .replace(/^.*\/node_modules\//, '')
    .replace(`${root}/bench/.build/`, '')
    .replace(`${root}/`, '');
}

/** Which part of the program a frame belongs to. */
function component(functionName: string, url: string, root: string): string {
  if (!url) {
    if (functionName === '(garbage collector)') return 'garbage collector';
    if (/^write(Latin1String|Utf8String|Buffer|v)$/.test(functionName)) return 'socket writes (syscalls, after process.nextTick)';
    if (functionName === '(program)') return 'V8/native (program)';
    return `native: ${functionName || '(anonymous)'}`;
  }
  if (url.startsWith('node:')) {
    const m = /^node:(?:internal\/)?([^/]+)/.exec(url);
    return `node:${m?.[1] ?? url}`;
  }
  const path = url.replace(/^file:\/\//, '');
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (nm) return nm[1]!;
  const rel = path.replace(`${root}/bench/.build/`, '').replace(`${root}/`, '');
  return rel;
}
