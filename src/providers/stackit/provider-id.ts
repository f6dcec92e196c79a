import { MachineCode } from '../../driver/codes.js';
import { MachineError } from '../../driver/machine-error.js';

/** `stackit://<projectId>/<serverId>`, as STACKIT's own Go MCM provider writes it. */
const PROVIDER_ID = /^stackit:\/\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

export interface StackitServerRef {
  projectId: string;
  serverId: string;
}

export function formatProviderId(projectId: string, serverId: string): string {
  return `stackit://${projectId}/${serverId}`;
}

export function parseProviderId(providerId: string): StackitServerRef {
  const m = PROVIDER_ID.exec(providerId);
  if (!m) {
    throw new MachineError(
      MachineCode.InvalidArgument,
      `machine.spec.providerID: "${providerId}" is not a STACKIT provider ID of the form stackit://<projectId>/<serverId>`,
    );
  }
  return { projectId: m[1]!, serverId: m[2]! };
}
