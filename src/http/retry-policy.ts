import type { RetryObject } from 'got';

export interface RetryPolicy {
  /** Retries after the first attempt; only idempotent methods are ever retried. */
  limit: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this fails the call instead of waiting. */
  maxRetryAfterMs: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  limit: 4,
  baseDelayMs: 500,
  maxDelayMs: 10_000,
  maxRetryAfterMs: 60_000,
};

/**
 * got's own rules decide whether to retry (enforceRetryRules: idempotent
 * methods, 429/5xx, network error codes, Retry-After within its bound); this
 * only replaces the delay: Retry-After when the server sent one, otherwise
 * exponential backoff with full jitter, so callers that failed together do
 * not retry together.
 */
export function fullJitterDelay(policy: RetryPolicy) {
  return ({ attemptCount, retryAfter, error }: RetryObject): number => {
    // A re-send with fresh credentials (afterResponse's retryWithMergedOptions after a 401) goes at once.
    if (error.name === 'RetryError') return 1;
    if (retryAfter !== undefined) return retryAfter;
    const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attemptCount - 1));
    return Math.max(1, Math.random() * ceiling);
  };
}
