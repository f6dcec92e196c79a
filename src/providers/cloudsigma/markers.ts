/**
 * Server `meta` keys that tie a server to its Machine, MachineClass and
 * cluster (meta keys may have at most 32 characters; these have 21-29). The
 * names match the STACKIT labels so one query language serves every cloud.
 * Meta is not a list filter in the API: every lookup lists servers and
 * compares these keys here, exactly.
 */
export const MACHINE_KEY = 'kubernetes.io/machine';
export const MACHINE_CLASS_KEY = 'kubernetes.io/machineclass';
export const CLUSTER_KEY = 'mcm-grpc-driver.io/cluster';
/** The UUID of the boot drive the driver cloned for the server: only that drive is deleted with it. */
export const BOOT_DRIVE_KEY = 'mcm-grpc-driver.io/boot-drive';
/**
 * When the driver sent the server's create request (ISO 8601). CloudSigma's
 * server object has no creation time (cloudsigma-docs servers.rst lists none;
 * cloudsigma-sdk-go servers.go Server has no such field), so MachineDriver's
 * twin rule ("keep the oldest") reads this one instead of falling back to the
 * lowest providerID.
 */
export const CREATED_AT_KEY = 'mcm-grpc-driver.io/created-at';

/** Meta keys with a meaning for CloudSigma's guest context / cloud-init, set by the driver. */
export const USER_DATA_KEY = 'cloudinit-user-data';
export const BASE64_FIELDS_KEY = 'base64_fields';
export const SSH_PUBLIC_KEY_KEY = 'ssh_public_key';

export const RESERVED_META_KEYS = [MACHINE_KEY, MACHINE_CLASS_KEY, CLUSTER_KEY, BOOT_DRIVE_KEY, CREATED_AT_KEY, USER_DATA_KEY, BASE64_FIELDS_KEY, SSH_PUBLIC_KEY_KEY];

export interface Markers {
  [MACHINE_KEY]: string;
  [MACHINE_CLASS_KEY]: string;
  [CLUSTER_KEY]: string;
}

/** A server's meta carries every one of these keys with exactly these values. */
export function hasMarkers(meta: Record<string, unknown> | null | undefined, wanted: Record<string, string>): boolean {
  return Object.entries(wanted).every(([k, v]) => meta?.[k] === v);
}

/**
 * The name of the boot drive the driver clones for a Machine. Drives are
 * found again by this exact name (the clone action takes a name; whether it
 * takes meta is not documented), so a drive left by a crashed or failed
 * create is adopted or removed by the next CreateMachine of the Machine.
 */
export function bootDriveName(namespace: string, machineName: string): string {
  return `mcm:${namespace}:${machineName}:boot`;
}
