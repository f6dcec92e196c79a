import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Reads until `done` says so or the deadline passes, sleeping `intervalMs`
 * between reads (cancellation-aware). Answers the last value read and whether
 * it was done; what a timeout means is the caller's to say.
 */
export async function pollUntil<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  o: { intervalMs: number; timeoutMs: number; signal: AbortSignal; sleepFirst?: boolean },
): Promise<{ value: T; done: boolean }> {
  const deadline = Date.now() + o.timeoutMs;
  if (o.sleepFirst) await sleep(o.intervalMs, undefined, { signal: o.signal });
  for (;;) {
    const value = await read();
    if (done(value)) return { value, done: true };
    if (Date.now() >= deadline) return { value, done: false };
    await sleep(o.intervalMs, undefined, { signal: o.signal });
  }
}
