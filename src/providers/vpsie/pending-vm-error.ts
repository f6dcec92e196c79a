import { MachineCode } from '../../driver/codes.js';
import { MachineError } from '../../driver/machine-error.js';

/**
 * A VM of this Machine is in VPSie's pending view: it exists (VPSie accepted
 * its create and keeps the request's tags [sdk: vpsieinc/govpsie pending.go
 * PendingVm.Data.Tags]) but has no identifier until VPSie lists it, so no
 * providerID can name it yet. Unavailable: MCM retries in 5 s, and nothing
 * reads "no VM" (a second create, a DeleteMachine that ends too early).
 */
export class PendingVmError extends MachineError {
  constructor(readonly machineName: string) {
    super(
      MachineCode.Unavailable,
      `the VM of machine ${machineName} is still being created: VPSie shows hostname ${machineName} with this Machine's tags in its pending view but does not list it yet, so it has no identifier; the next call looks again`,
    );
  }
}

export function isPendingVm(err: unknown): err is PendingVmError {
  return err instanceof PendingVmError;
}
