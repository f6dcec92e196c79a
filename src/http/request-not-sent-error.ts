/**
 * A request that never left the sidecar: its call was cut (shutdown,
 * cancellation) before it was sent, e.g. while it waited for a token of
 * VPSie's account rate limiter. Nothing reached the cloud, so a create cut
 * here made nothing: MachineDriver's classifier (create-outcome.ts) counts it
 * as refused, and no record makes the next calls wait out the discovery
 * window for a VM that never comes. `cause` is the abort reason.
 */
export class RequestNotSentError extends Error {
  constructor(
    readonly cloud: string,
    readonly operation: string,
    cause: unknown,
  ) {
    super(`${cloud} ${operation}: not sent, the call ended while it waited for the account's request budget`, { cause });
    this.name = 'RequestNotSentError';
  }
}

export function isRequestNotSent(err: unknown): err is RequestNotSentError {
  return err instanceof RequestNotSentError;
}
