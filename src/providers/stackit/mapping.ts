import { MachineCode } from '../../driver/codes.js';
import type { ListedVm, MachineClassRef, MachineRef, NodeAddress, VmRecord, VmState } from '../../driver/provider.js';
import { CLUSTER_LABEL, MACHINE_CLASS_LABEL, MACHINE_LABEL } from './markers.js';
import { formatProviderId } from './provider-id.js';
import type { CreateServerPayload, StackitNic, StackitProviderSpec, StackitServer } from './types.js';

/**
 * The labels the driver owns on a server. The namespace marker is always
 * written (so a class that later drops kubernetes.io/cluster still finds its
 * servers); kubernetes.io/cluster comes with the class's own labels.
 */
export function markerLabels(machineName: string, cls: MachineClassRef): Record<string, string> {
  return { [MACHINE_LABEL]: machineName, [MACHINE_CLASS_LABEL]: cls.name, [CLUSTER_LABEL]: cls.namespace };
}

/**
 * providerSpec + Machine → CreateServerPayload. The server is named after the
 * Machine; the marker labels win over user labels (the schema already rejects
 * user labels with these keys). userData comes from the class, else from the Secret MCM filled in.
 */
export function createServerPayload(
  spec: StackitProviderSpec,
  machine: MachineRef,
  cls: MachineClassRef,
  userData: Buffer | undefined,
): CreateServerPayload {
  const { region: _region, bootVolume, labels, allowedAddresses: _allowed, userData: specUserData, ...rest } = spec;
  const payload: CreateServerPayload = {
    ...rest,
    name: machine.name,
    labels: { ...labels, ...markerLabels(machine.name, cls) },
  };
  if (bootVolume) {
    payload.bootVolume =
      bootVolume.source.type === 'image'
        ? // The API's default (false) leaves one volume behind per node roll.
          { ...bootVolume, deleteOnTermination: bootVolume.deleteOnTermination ?? true }
        : bootVolume;
  }
  // The class's userData wins over the Secret's, as in the Go provider (pkg/provider/create.go, createServerRequest).
  if (specUserData) payload.userData = Buffer.from(specUserData, 'utf8').toString('base64');
  else if (userData && userData.length > 0) payload.userData = userData.toString('base64');
  return payload;
}

export function toVmRecord(server: StackitServer, projectId: string): VmRecord {
  const state = vmState(server.status);
  return {
    providerId: formatProviderId(projectId, server.id),
    machineName: server.labels?.[MACHINE_LABEL],
    state,
    failureMessage: state === 'failed' ? server.errorMessage : undefined,
    failureCode: state === 'failed' && isCapacityProblem(server.errorMessage) ? MachineCode.ResourceExhausted : undefined,
    addresses: addresses(server),
    createdAt: server.createdAt,
  };
}

/** What ListMachines reads of a server: its ID, the Machine its label names, its state. */
export function toListedVm(server: StackitServer, projectId: string): ListedVm {
  return { providerId: formatProviderId(projectId, server.id), machineName: server.labels?.[MACHINE_LABEL], state: vmState(server.status) };
}

/** Status values are prose in the spec, not an enum: anything unknown counts as still changing. */
function vmState(status: string | undefined): VmState {
  switch (status) {
    case 'ACTIVE':
      return 'running';
    case 'ERROR':
      return 'failed';
    case 'DELETING':
    case 'DELETED':
      return 'deleting';
    case 'INACTIVE':
    case 'DEALLOCATED':
      return 'stopped';
    case 'CREATING':
      return 'creating';
    default:
      return 'unknown';
  }
}

function addresses(server: StackitServer): NodeAddress[] {
  const out: NodeAddress[] = [];
  for (const nic of server.nics ?? []) {
    if (nic.ipv4) out.push({ type: 'InternalIP', address: nic.ipv4 });
    if (nic.ipv6) out.push({ type: 'InternalIP', address: nic.ipv6 });
    if (nic.publicIp) out.push({ type: 'ExternalIP', address: nic.publicIp });
  }
  return out;
}

/** A server's addresses as its NICs report them (the Go provider's nicAddresses, pkg/provider/create.go). */
export function nicAddresses(nics: readonly StackitNic[]): NodeAddress[] {
  const out: NodeAddress[] = [];
  for (const nic of nics) {
    if (nic.ipv4) out.push({ type: 'InternalIP', address: nic.ipv4 });
    if (nic.ipv6) out.push({ type: 'InternalIP', address: nic.ipv6 });
  }
  return out;
}

/** STACKIT reports capacity and quota problems only in prose (its Go provider matches the same phrases). */
export function isCapacityProblem(message: string | undefined): boolean {
  return message !== undefined && /quota|no valid host|insufficient capacity|exceeded/i.test(message);
}

/** A server carries every one of these labels with exactly these values. */
export function hasLabels(server: StackitServer, wanted: Record<string, string>): boolean {
  return Object.entries(wanted).every(([k, v]) => server.labels?.[k] === v);
}
