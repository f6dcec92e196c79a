import { MachineCode } from '../driver/codes.js';
import { MachineError } from '../driver/machine-error.js';
import { CloudApiError } from './cloud-api-error.js';

/**
 * The one table from cloud HTTP outcomes to MCM codes (README "Error codes").
 * The code decides MCM's retry: Unavailable/DeadlineExceeded/Aborted retry in
 * 5 s, ResourceExhausted in 10 min (and tells the cluster-autoscaler to back
 * off), everything else in 3 min.
 */
export function machineCodeFor(err: CloudApiError): MachineCode {
  if (err.fields.quota) return MachineCode.ResourceExhausted;
  switch (err.kind) {
    case 'timeout':
      return MachineCode.DeadlineExceeded;
    case 'network':
    case 'malformed':
      return MachineCode.Unavailable;
    case 'canceled':
      return MachineCode.Canceled;
    case 'too-large':
      return MachineCode.ResourceExhausted;
    case 'http':
      break;
  }
  const status = err.status ?? 0;
  if (status >= 500) return MachineCode.Unavailable;
  switch (status) {
    case 400:
    case 422:
      return MachineCode.InvalidArgument;
    case 401:
      return MachineCode.Unauthenticated;
    case 403:
      return MachineCode.PermissionDenied;
    case 404:
      return MachineCode.NotFound;
    case 409:
      return MachineCode.Aborted;
    case 429:
      return MachineCode.Unavailable;
    default:
      return MachineCode.Unknown;
  }
}

export function toMachineError(err: CloudApiError, context?: string): MachineError {
  const message = context ? `${context}: ${err.message}` : err.message;
  return new MachineError(machineCodeFor(err), message, {}, { cause: err });
}
