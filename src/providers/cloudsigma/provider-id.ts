import { MachineCode } from '../../driver/codes.js';
import { MachineError } from '../../driver/machine-error.js';

/** `cloudsigma://<server uuid>`: the server UUID is unique across the location, so nothing else is needed. */
const PROVIDER_ID = /^cloudsigma:\/\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function formatProviderId(serverUuid: string): string {
  return `cloudsigma://${serverUuid}`;
}

export function parseProviderId(providerId: string): string {
  const m = PROVIDER_ID.exec(providerId);
  if (!m) {
    throw new MachineError(
      MachineCode.InvalidArgument,
      `machine.spec.providerID: "${providerId}" is not a CloudSigma provider ID of the form cloudsigma://<server uuid>`,
    );
  }
  return m[1]!;
}
