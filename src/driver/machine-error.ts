import { MachineCode, machineCodeName } from './codes.js';

/**
 * The one error type the driver layer hands to the gRPC server. `code` is the
 * MCM machine code sent as the gRPC status; `lastKnownState` rides along in the
 * attached response where MCM reads one (CreateMachine, DeleteMachine).
 */
export class MachineError extends Error {
  override readonly name = 'MachineError';

  constructor(
    readonly code: MachineCode,
    message: string,
    readonly details: { lastKnownState?: string; providerId?: string; nodeName?: string } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get codeName(): string {
    return machineCodeName(this.code);
  }
}

export function isMachineError(err: unknown): err is MachineError {
  return err instanceof MachineError;
}

/** Every field problem of one request, reported together as InvalidArgument. */
export class InvalidInputError extends MachineError {
  constructor(readonly problems: readonly string[]) {
    super(MachineCode.InvalidArgument, `invalid input: ${problems.join('; ')}`);
  }
}

export function isInvalidInputError(err: unknown): err is InvalidInputError {
  return err instanceof InvalidInputError;
}
