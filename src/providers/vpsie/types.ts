/**
 * VPSie shapes. Sources are marked as in cloud-apis.md §3: [sdk] = VPSie's own
 * clients (govpsie 2024/2026, Terraform provider, CAPI provider, CCM),
 * [unconfirmed] = no source, an assumption the adapter is built to survive.
 */

/** How MCM's userData reaches the VM. */
export type UserDataDelivery = 'script' | 'userData' | 'none';

/** The providerSpec, as provider-spec.schema.json allows it. */
export interface VpsieProviderSpec {
  /** string in the 2026 client, integer in the 2024 client [sdk]; sent as written. */
  projectId: string | number;
  dcIdentifier: string;
  resourceIdentifier: string;
  osIdentifier: string;
  sshKeyIdentifier?: string;
  scriptIdentifier?: string;
  userDataDelivery?: UserDataDelivery;
  tags?: string[];
  notes?: string;
  addPublicIpV4?: boolean;
  addPublicIpV6?: boolean;
  addPrivateIp?: boolean;
  backupEnabled?: boolean;
  weeklyBackupEnabled?: boolean;
  monthlyBackupEnabled?: boolean;
  ssd?: number;
  deleteReason?: string;
  discovery?: {
    /** Duration such as `15m`: how long after the create request the VM may take to show up. */
    timeout?: string;
    /** Send a new create once the timeout has passed and nothing is visible (risk: a duplicate). */
    recreateAfterTimeout?: boolean;
  };
}

/** The Secret data, decoded as UTF-8 strings. */
export interface VpsieSecret {
  'api-token': string;
  'account-password': string;
  'api-endpoint'?: string;
  'apps-endpoint'?: string;
  userData?: string;
}

/** `"0"` / `"1"` on /api/v2/vm [sdk: 2026 client fix 4022865]; /apps/v2/vm gets numbers (mapping.ts flag). */
export type Flag = '0' | '1';

/** CreateServerRequest [sdk], the fields the adapter sends. */
export interface CreateVmRequest {
  resourceIdentifier: string;
  osIdentifier: string;
  dcIdentifier: string;
  hostname: string;
  projectId: string | number;
  notes: string;
  tags: string[];
  sshKeyIdentifier?: string;
  scriptIdentifier?: string;
  userData?: string;
  ssd?: number;
  addPublicIpV4?: Flag | 0 | 1;
  addPublicIpV6?: Flag | 0 | 1;
  addPrivateIp?: Flag | 0 | 1;
  backupEnabled?: Flag | 0 | 1;
  weeklyBackupEnabled?: Flag | 0 | 1;
  monthlyBackupEnabled?: Flag | 0 | 1;
}

/** VmData [sdk: govpsie], the fields the adapter reads. All 0/1 flags are integers. */
export interface VmData {
  id?: number;
  identifier: string;
  hostname: string;
  notes?: string | null;
  default_ip?: string | null;
  default_ipv6?: string | null;
  private_ip?: string | null;
  publicIp?: string | null;
  power?: number;
  is_active?: number;
  is_suspended?: number;
  is_terminated?: number;
  is_deleted?: number;
  is_locked?: number;
  project_id?: number;
  created_on?: string;
}

/** An entry of `GET /vm/pending` [sdk: govpsie PendingVm]; `id` is not a VM identifier. */
export interface PendingVm {
  id?: string;
  running?: number;
  type?: string;
  data?: { hostname?: string; projectId?: number | string; tags?: unknown[]; processId?: string };
}

/** A listed script [sdk: govpsie Script]; `script` is the content. */
export interface VpsieScript {
  identifier: string;
  /** `<name>.sh` in the list [sdk: govpsie Script]; the detail also has `name` [sdk: ScriptDetail]. */
  script_name: string;
  name?: string;
  script?: string;
  created_on?: string;
}

/** Every VPSie answer is wrapped like this [sdk]; `error: true` may come with HTTP 200 [sdk]. */
export interface Envelope<T> {
  error?: boolean;
  code?: number;
  message?: string;
  data?: T;
  total?: number;
}
