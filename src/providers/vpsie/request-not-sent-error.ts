/**
 * A VPSie request that never left the sidecar: its call was cut (shutdown,
 * cancellation) while it waited for a token of the account's rate limiter.
 * Nothing reached VPSie, so a create cut here made nothing and must not be
 * reported as requested (a record would have the next calls wait up to the
 * discovery timeout for a VM that never comes). `cause` is the abort reason.
 */
export class RequestNotSentError extends Error {
  constructor(
    readonly operation: string,
    cause: unknown,
  ) {
    super(`vpsie ${operation}: not sent, the call ended while it waited for the account's request budget`, { cause });
    this.name = 'RequestNotSentError';
  }
}

export function isRequestNotSent(err: unknown): err is RequestNotSentError {
  return err instanceof RequestNotSentError;
}
