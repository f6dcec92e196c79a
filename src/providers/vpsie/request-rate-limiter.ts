import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A token bucket shared by every call the provider makes for one VPSie
 * account: all Machines being created, listed or deleted draw from it, so
 * discovery polling stays within the account's budget however many Machines
 * wait at once. VPSie documents no rate limit; VPSie's own autoscaler limits
 * itself to 100 requests a minute with a burst of 100
 * [sdk: vpsieinc/vpsie-k8s-autoscaler pkg/vpsie/client/client.go,
 * DefaultRateLimit = 100, rate.NewLimiter(RateLimit/60, RateLimit)].
 * Neither got nor another chosen dependency limits a request rate (got
 * retries and honours Retry-After, which stays its job).
 */
export class RequestRateLimiter {
  private tokens: number;
  private last: number;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly perMinute: number,
    private readonly burst: number = perMinute,
    private readonly now: () => number = Date.now,
  ) {
    if (!(perMinute > 0) || !(burst >= 1)) throw new Error('RequestRateLimiter: perMinute must be > 0 and burst >= 1');
    this.tokens = burst;
    this.last = now();
  }

  /**
   * Resolves when one request may go; callers are served in arrival order.
   * An aborted caller is answered at once, wherever it stands in the queue,
   * as golang.org/x/time/rate's Limiter.Wait (what VPSie's autoscaler waits
   * on) returns when its context ends: one cancelled call must not wait for
   * the tokens of every Machine queued before it (17 waiters at 100 a minute
   * are ten seconds). When all calls are aborted at once (the end of a
   * shutdown grace) the queue unwound quickly before too; it is the single
   * cancelled call behind live ones that waited.
   */
  take(signal?: AbortSignal): Promise<void> {
    const turn = this.queue.then(() => this.waitForToken(signal));
    // A cancelled waiter must not stall the ones behind it: its turn, when it comes, ends without a token.
    this.queue = turn.catch(() => undefined);
    if (!signal) return turn;
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      turn.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  private async waitForToken(signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      this.refill();
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      const waitMs = Math.ceil(((1 - this.tokens) * 60_000) / this.perMinute);
      await sleep(waitMs, undefined, { signal });
    }
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) * this.perMinute) / 60_000);
    this.last = t;
  }
}
