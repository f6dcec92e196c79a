import { isCloudApiError } from '../http/cloud-api-error.js';
import { isRequestNotSent } from '../http/request-not-sent-error.js';
import { MachineCode } from './codes.js';
import { MachineError, isMachineError } from './machine-error.js';
import type { VmRecord } from './provider.js';

/**
 * What one create request did, as far as the driver can tell:
 * - created: the cloud answered with the VM (an id the driver can read back);
 * - refused: the cloud said no, nothing was made (4xx, 429, capacity, bad input);
 * - unknown: the request may have taken effect (no answer, a 5xx, a cut body,
 *   a cancelled call, or an asynchronous create accepted without an id).
 */
export type CreateOutcome =
  | { kind: 'created'; vm: VmRecord }
  | { kind: 'refused'; error: unknown }
  | { kind: 'unknown'; error?: unknown };

/**
 * The one classifier of "may this failed create request have taken effect?".
 * Only an answer that says "not done" counts as refused; anything else (no
 * answer at all, a server error, a body that could not be read, a bug) is
 * treated as "maybe", because the cost of a wrong "no" is a second VM.
 * - 4xx (429 included: rate limits are checked before the request is served)
 *   and quota/capacity answers (CloudSigma's capacity 503 included) refuse.
 * - A 5xx the cloud's own error document says was not carried out
 *   (CloudApiError notApplied: CloudSigma's concurrency error) refuses.
 * - timeout, network, malformed body, other 5xx, cancellation: maybe.
 * - A request that never left the sidecar (RequestNotSentError) refuses.
 * - A MachineError carrying the cloud's answer (cause: an adapter added what
 *   it kept to it) is judged by that answer; one without it, raised before
 *   or after the request: refused for the codes that mean "not sent / not
 *   accepted", maybe otherwise.
 */
export function mayHaveTakenEffect(err: unknown, signal?: AbortSignal): boolean {
  if (isNoVmRequested(err) || isRequestNotSent(err)) return false;
  if (isCloudApiError(err)) {
    if (err.kind === 'canceled') return true;
    if (err.fields.quota || err.fields.notApplied) return false;
    if (err.kind === 'http') return (err.status ?? 0) >= 500;
    return err.kind === 'timeout' || err.kind === 'network' || err.kind === 'malformed' || err.kind === 'too-large';
  }
  if (signal?.aborted) return true;
  if (isMachineError(err) && isCloudApiError(err.cause)) return mayHaveTakenEffect(err.cause, signal);
  if (isMachineError(err)) return !REFUSED.has(err.code);
  return true;
}

/** Codes that say the create was not sent or not accepted. */
const REFUSED = new Set<MachineCode>([
  MachineCode.InvalidArgument,
  MachineCode.Unauthenticated,
  MachineCode.PermissionDenied,
  MachineCode.ResourceExhausted,
  MachineCode.FailedPrecondition,
  MachineCode.AlreadyExists,
  MachineCode.OutOfRange,
  MachineCode.Aborted,
  MachineCode.NotFound,
  MachineCode.Unimplemented,
]);

/** Runs one create request and says what it did. */
export async function runCreate(request: () => Promise<VmRecord | undefined>, signal: AbortSignal): Promise<CreateOutcome> {
  try {
    const vm = await request();
    return vm ? { kind: 'created', vm } : { kind: 'unknown' };
  } catch (error) {
    return mayHaveTakenEffect(error, signal) ? { kind: 'unknown', error } : { kind: 'refused', error };
  }
}

/**
 * A create failed before the VM's own create request was sent (create()
 * threw before it called hooks.beforeVmRequest(): CloudSigma's boot drive
 * clone, VPSie's boot script, a name check), or MachineDriver stopped waiting
 * for such a step. Only MachineDriver raises it. No VM can exist from it, so
 * the driver holds nothing back; what the step may have made carries the
 * Machine's name and the next create reuses it (DeleteMachine removes it).
 */
export class NoVmRequestedError extends MachineError {
  constructor(readonly step: string, failure: MachineError) {
    super(failure.code, failure.message, failure.details, { cause: failure.cause ?? failure });
  }
}

export function isNoVmRequested(err: unknown): err is NoVmRequestedError {
  return err instanceof NoVmRequestedError;
}
