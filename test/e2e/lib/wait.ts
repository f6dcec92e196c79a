export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Seconds since `t0` (performance.now()), one decimal. */
export const since = (t0: number): number => Math.round((performance.now() - t0) / 100) / 10;

export class WaitTimeout extends Error {}

/**
 * Polls `probe` until it returns `{ done: true }`; the last `state` it
 * reported goes into the timeout error, so a failure says what was seen.
 * Probe errors (an apiserver hiccup) are retried, and reported on timeout.
 */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<{ done: boolean; value?: T; state?: string }>,
  opts: { timeoutMs: number; intervalMs?: number; abort?: () => string | undefined },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastState = '(not probed yet)';
  let lastError = '';
  for (;;) {
    const aborted = opts.abort?.();
    if (aborted) throw new Error(`${what}: ${aborted}`);
    try {
      const r = await probe();
      if (r.state !== undefined) lastState = r.state;
      lastError = '';
      if (r.done) return r.value as T;
    } catch (err) {
      lastError = (err as Error).message;
    }
    if (Date.now() > deadline) {
      throw new WaitTimeout(
        `timed out after ${Math.round(opts.timeoutMs / 1000)} s waiting for ${what}; last seen: ${lastState}${lastError ? `; last error: ${lastError}` : ''}`,
      );
    }
    await sleep(opts.intervalMs ?? 1000);
  }
}
