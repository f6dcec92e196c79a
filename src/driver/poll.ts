import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The one polling helper: every wait of the driver (a step before the VM, the
 * VM running, a deletion, what a VM owned going) runs through it, so no
 * provider sleeps or times out on its own. Reads until `done` says so or the
 * deadline (an absolute Date.now() value) passes, sleeping `intervalMs`
 * between reads (cancellation-aware). Answers the last value read and whether
 * it was done; what a timeout means is the caller's to say.
 */
export async function pollUntil<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  o: { intervalMs: number; deadline: number; signal: AbortSignal; sleepFirst?: boolean },
): Promise<{ value: T; done: boolean }> {
  if (o.sleepFirst) await sleep(o.intervalMs, undefined, { signal: o.signal });
  for (;;) {
    const value = await read();
    if (done(value)) return { value, done: true };
    if (Date.now() >= o.deadline) return { value, done: false };
    await sleep(o.intervalMs, undefined, { signal: o.signal });
  }
}
