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
}

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
  };
}

function shortUrl(url: string, root: string): string {
  return url
    .replace(/^file:\/\//, '')
    .replace(`${root}/node_modules/`, '')
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
