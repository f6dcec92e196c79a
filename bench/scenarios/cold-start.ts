// 4. Footprint at start: spawn → first gRPC health answer SERVING, and the RSS of a sidecar
// that has served nothing yet. A fresh process every run.
import { memory } from '../lib/proc.js';
import { startSidecar } from '../lib/sidecar.js';
import { spread, type Spread } from '../lib/stats.js';

export interface ColdStartResult {
  runs: number;
  startMs: Spread;
  rssAtServingMiB: Spread;
  rssIdleMiB: Spread;
  startAll: number[];
}

export async function runColdStart(cloudUrl: string, runs: number): Promise<ColdStartResult> {
  const start: number[] = [];
  const atServing: number[] = [];
  const idle: number[] = [];
  for (let i = 0; i < runs; i++) {
    const s = await startSidecar({ env: { STACKIT_API_ENDPOINT: cloudUrl }, logName: `cold-start-${i}` });
    start.push(s.startMs);
    atServing.push(memory(s.pid).rssMiB);
    await new Promise((r) => setTimeout(r, 1_000));
    idle.push(memory(s.pid).rssMiB);
    await s.stop();
  }
  process.stdout.write(`  cold start: ${start.map((v) => v.toFixed(0)).join(', ')} ms\n`);
  return { runs, startMs: spread(start), rssAtServingMiB: spread(atServing), rssIdleMiB: spread(idle), startAll: start };
}
