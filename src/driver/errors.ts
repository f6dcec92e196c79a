import { isCloudApiError } from '../http/cloud-api-error.js';
import { toMachineError } from '../http/error-mapping.js';
import { MachineCode } from './codes.js';
import { MachineError, isMachineError } from './machine-error.js';

/**
 * Turns whatever a step threw into the MachineError sent to MCM. A call that
 * was cancelled or ran out of time reports that, not the cloud error its
 * aborted request produced.
 */
export function asMachineError(err: unknown, signal?: AbortSignal, context?: string): MachineError {
  if (isMachineError(err)) return err;
  if (signal?.aborted && isMachineError(signal.reason)) return signal.reason;
  if (isCloudApiError(err)) return toMachineError(err, context);
  const what = err instanceof Error ? err.message : String(err);
  return new MachineError(MachineCode.Internal, context ? `${context}: ${what}` : what, {}, { cause: err });
}

export function withLastKnownState(err: MachineError, lastKnownState: string): MachineError {
  if (err.details.lastKnownState) return err;
  return new MachineError(err.code, err.message, { ...err.details, lastKnownState }, { cause: err.cause });
}
