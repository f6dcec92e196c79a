import { MachineCode } from '../../driver/codes.js';
import { MachineError } from '../../driver/machine-error.js';

/**
 * `vpsie://<vm identifier>`. The identifier is the string id every VM call
 * uses [sdk]; its format is [unconfirmed], so anything path-safe is accepted
 * and kept byte-for-byte.
 */
const PROVIDER_ID = /^vpsie:\/\/([A-Za-z0-9][A-Za-z0-9_.-]{0,127})$/;

export function formatProviderId(identifier: string): string {
  return `vpsie://${identifier}`;
}

export function isVmIdentifier(identifier: string): boolean {
  return PROVIDER_ID.test(formatProviderId(identifier)) && !identifier.includes('..');
}

export function parseProviderId(providerId: string): string {
  const m = PROVIDER_ID.exec(providerId);
  if (!m || m[1]!.includes('..')) {
    throw new MachineError(
      MachineCode.InvalidArgument,
      `machine.spec.providerID: "${providerId}" is not a VPSie provider ID of the form vpsie://<vm identifier>`,
    );
  }
  return m[1]!;
}
