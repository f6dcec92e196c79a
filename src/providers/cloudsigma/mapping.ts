import { randomInt } from 'node:crypto';
import type { ListedVm, MachineClassRef, MachineRef, NodeAddress, VmRecord, VmState } from '../../driver/provider.js';
import {
  BASE64_FIELDS_KEY,
  BOOT_DRIVE_KEY,
  CREATED_AT_KEY,
  CLUSTER_KEY,
  MACHINE_CLASS_KEY,
  MACHINE_KEY,
  SSH_PUBLIC_KEY_KEY,
  USER_DATA_KEY,
  type Markers,
} from './markers.js';
import { formatProviderId } from './provider-id.js';
import type { CloneDriveBody, CloudSigmaDrive, CloudSigmaProviderSpec, CloudSigmaServer, CreateServerBody } from './types.js';

export function markers(machineName: string, cls: MachineClassRef): Markers {
  return { [MACHINE_KEY]: machineName, [MACHINE_CLASS_KEY]: cls.name, [CLUSTER_KEY]: cls.namespace };
}

const UNITS: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };

/** Bytes from an integer or a binary quantity ("4Gi"); the schema has checked the form. */
export function toBytes(value: number | string): number {
  if (typeof value === 'number') return value;
  const m = /^(\d+)(Ki|Mi|Gi|Ti)$/.exec(value);
  if (!m) throw new Error(`not a byte size: ${value}`);
  return Number(m[1]) * UNITS[m[2]!]!;
}

/** The body of the boot drive clone: named so the drive can be found again, always a disk. */
export function cloneDriveBody(spec: CloudSigmaProviderSpec, name: string): CloneDriveBody {
  const body: CloneDriveBody = { name, media: 'disk' };
  if (spec.bootDrive.size !== undefined) body.size = toBytes(spec.bootDrive.size);
  if (spec.bootDrive.storageType !== undefined) body.storage_type = spec.bootDrive.storageType;
  return body;
}

/** A leftover drive can stand in for a fresh clone only if it is what the class asks for now. */
export function driveFits(spec: CloudSigmaProviderSpec, drive: CloudSigmaDrive): boolean {
  const { size, storageType } = spec.bootDrive;
  if (size !== undefined && drive.size !== undefined && drive.size < toBytes(size)) return false;
  if (storageType !== undefined && drive.storage_type && drive.storage_type !== storageType) return false;
  return true;
}

const PASSWORD_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

export function randomVncPassword(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)];
  return out;
}

/**
 * providerSpec + Machine → one server of the create body. The server is named
 * after the Machine; the marker keys and the cloud-init keys win over user
 * meta (the schema already refuses user meta with those keys). context stays
 * true: cloud-init's CloudSigma datasource reads the meta through it.
 */
export function createServerBody(
  spec: CloudSigmaProviderSpec,
  machine: MachineRef,
  cls: MachineClassRef,
  bootDriveUuid: string,
  vncPassword: string,
  userData: Buffer | undefined,
  requestedAt: Date = new Date(),
): CreateServerBody {
  const meta: Record<string, string> = {
    ...spec.meta,
    ...markers(machine.name, cls),
    [BOOT_DRIVE_KEY]: bootDriveUuid,
    [CREATED_AT_KEY]: requestedAt.toISOString(),
  };
  if (spec.sshPublicKey) meta[SSH_PUBLIC_KEY_KEY] = spec.sshPublicKey;
  if (userData && userData.length > 0) {
    meta[USER_DATA_KEY] = userData.toString('base64');
    meta[BASE64_FIELDS_KEY] = USER_DATA_KEY;
  }
  const body: CreateServerBody = {
    name: machine.name,
    cpu: spec.cpu,
    mem: toBytes(spec.memory),
    vnc_password: vncPassword,
    context: true,
    drives: [
      {
        // A plain UUID string, as the docs' full-create example sends it (the Go SDK's object form is reported not to work).
        drive: bootDriveUuid,
        device: spec.bootDrive.device ?? 'virtio',
        dev_channel: spec.bootDrive.devChannel ?? '0:0',
        boot_order: 1,
      },
    ],
    nics: spec.nics.map((nic) => {
      const out: CreateServerBody['nics'][number] = {};
      if (nic.model) out.model = nic.model;
      if (nic.vlan) out.vlan = nic.vlan;
      if (nic.ipv4) out.ip_v4_conf = { conf: nic.ipv4.conf, ...(nic.ipv4.ip ? { ip: nic.ipv4.ip } : {}) };
      if (nic.ipv6) out.ip_v6_conf = { conf: nic.ipv6.conf, ...(nic.ipv6.ip ? { ip: nic.ipv6.ip } : {}) };
      if (nic.bootOrder !== undefined) out.boot_order = nic.bootOrder;
      return out;
    }),
    meta,
  };
  if (spec.smp !== undefined) body.smp = spec.smp;
  if (spec.cpuType) body.cpu_type = spec.cpuType;
  if (spec.cpuModel) body.cpu_model = spec.cpuModel;
  if (spec.hypervisor) body.hypervisor = spec.hypervisor;
  if (spec.cpusInsteadOfCores !== undefined) body.cpus_instead_of_cores = spec.cpusInsteadOfCores;
  if (spec.enableNuma !== undefined) body.enable_numa = spec.enableNuma;
  if (spec.hvRelaxed !== undefined) body.hv_relaxed = spec.hvRelaxed;
  if (spec.hvTsc !== undefined) body.hv_tsc = spec.hvTsc;
  if (spec.tags?.length) body.tags = spec.tags;
  if (spec.pubkeys?.length) body.pubkeys = spec.pubkeys;
  return body;
}

export function toVmRecord(server: CloudSigmaServer): VmRecord {
  const state = vmState(server.status);
  const machineName = server.meta?.[MACHINE_KEY];
  const createdAt = server.meta?.[CREATED_AT_KEY];
  return {
    providerId: formatProviderId(server.uuid),
    machineName: typeof machineName === 'string' && machineName !== '' ? machineName : undefined,
    state,
    failureMessage: state === 'failed' ? `the server is ${server.status} (CloudSigma: reached through an illegal operation; it does not run again by itself)` : undefined,
    addresses: addresses(server),
    // The API gives no creation time: the one the driver wrote at create (markers.ts CREATED_AT_KEY), if readable.
    ...(typeof createdAt === 'string' && !Number.isNaN(Date.parse(createdAt)) ? { createdAt } : {}),
  };
}

/** What ListMachines reads of a server: its ID, the Machine its meta names, its state. */
export function toListedVm(server: CloudSigmaServer): ListedVm {
  const machineName = server.meta?.[MACHINE_KEY];
  return { providerId: formatProviderId(server.uuid), machineName: typeof machineName === 'string' && machineName !== '' ? machineName : undefined, state: vmState(server.status) };
}

/**
 * Server status (servers.rst state diagram): the server does not boot by
 * itself, so `stopped` is its state right after create. `paused` is
 * "essentially dead"; `unavailable` (a host problem) may pass, so it is not
 * treated as failed; anything unknown counts as still changing.
 */
export function vmState(status: string | undefined): VmState {
  switch (status) {
    case 'running':
      return 'running';
    case 'starting':
      return 'creating';
    case 'stopped':
      return 'stopped';
    case 'paused':
      return 'failed';
    default:
      return 'unknown';
  }
}

function addresses(server: CloudSigmaServer): NodeAddress[] {
  const out: NodeAddress[] = [];
  for (const nic of server.runtime?.nics ?? []) {
    const type = nic.interface_type === 'public' ? 'ExternalIP' : 'InternalIP';
    // An IP's uuid is its address (/ips/{address}/).
    for (const ip of [nic.ip_v4, nic.ip_v6]) if (ip?.uuid) out.push({ type, address: ip.uuid });
  }
  return out;
}

/** UUIDs of the drives attached to a server (`drive` is an object in answers, a string in requests). */
export function attachedDrives(server: CloudSigmaServer): string[] {
  const out: string[] = [];
  for (const d of server.drives ?? []) {
    const uuid = typeof d.drive === 'string' ? d.drive : d.drive?.uuid;
    if (uuid) out.push(uuid);
  }
  return out;
}

/**
 * The human part of an error answer. The docs show a JSON array of
 * `{error_type, error_message, error_point}`; kube-dc logged a single object
 * for a 403. Both are read.
 */
export function apiErrorMessage(body: unknown): string | undefined {
  const items = Array.isArray(body) ? body : [body];
  const parts: string[] = [];
  for (const item of items) {
    if (!item || typeof item !== 'object') continue;
    const { error_type: type, error_message: message, error_point: point } = item as Record<string, unknown>;
    if (typeof message !== 'string') continue;
    const where = typeof point === 'string' && point ? ` (at ${point})` : '';
    parts.push(`${typeof type === 'string' ? `${type}: ` : ''}${message}${where}`);
  }
  return parts.length > 0 ? parts.join('; ') : undefined;
}

/**
 * Quota, capacity and funds become ResourceExhausted, so MCM waits 10 min and
 * the cluster-autoscaler backs off the pool:
 * - 402 (not enough funds; cloudsigma-docs general.rst) and error types
 *   billing/payment (cloudsigma-docs errors.rst);
 * - 503 that is not a concurrency error: cloudsigma-docs general.rst says 503
 *   means "concurrent updates ... or when the system is out of capacity", and
 *   errors.rst gives concurrency its own error_type ("should be retried"), so a
 *   503 with CloudSigma's error list and another type is capacity. A 503
 *   without that list (a proxy in front of the API) stays Unavailable;
 * - capacity prose in any status: cloudsigma-docs drives.rst quotes "We
 *   currently cannot provide enough resources to create a nvme drive".
 * `message` is apiErrorMessage's "type: message" form.
 */
export function isCapacityProblem(status: number, message: string | undefined): boolean {
  if (status === 402) return true;
  if (!message) return false;
  if (status === 503 && !/(^|; )concurrency:/.test(message)) return true;
  return /(^|; )(billing|payment):/.test(message) || /cannot provide enough resources|not enough (resources|capacity|funds)|out of capacity|insufficient|quota|limit exceeded/i.test(message);
}

/**
 * CloudSigma's concurrency error (cloudsigma-docs errors.rst: error_type
 * `concurrency`, answered with 503 per general.rst "concurrent updates"): the
 * API refused the request because another update of the same object was in
 * progress, and says it "should be retried". Nothing was carried out, so a
 * create answered so is refused, not "may have taken effect". Only CloudSigma's
 * own error list says so: a bare 503 (a proxy) stays unknown.
 */
export function isConcurrencyRefusal(status: number, message: string | undefined): boolean {
  return status === 503 && message !== undefined && /(^|; )concurrency:/.test(message);
}
