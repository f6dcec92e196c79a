/**
 * MCM's machine codes (pkg/util/provider/machinecodes/codes). 0-16 are the
 * gRPC codes with the same numbers; 17 exists only in MCM.
 */
export enum MachineCode {
  OK = 0,
  Canceled = 1,
  Unknown = 2,
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  AlreadyExists = 6,
  PermissionDenied = 7,
  ResourceExhausted = 8,
  FailedPrecondition = 9,
  Aborted = 10,
  OutOfRange = 11,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  DataLoss = 15,
  Unauthenticated = 16,
  Uninitialized = 17,
}

export function machineCodeName(code: number): string {
  return MachineCode[code] ?? `Code${code}`;
}
