/** The providerSpec, as its JSON Schema (provider-spec.schema.json) allows it. */
export interface CloudSigmaProviderSpec {
  location?: string;
  cpu: number;
  smp?: number;
  /** Bytes as an integer, or a binary quantity such as "4Gi". */
  memory: number | string;
  cpuType?: string;
  cpuModel?: string;
  hypervisor?: string;
  cpusInsteadOfCores?: boolean;
  enableNuma?: boolean;
  hvRelaxed?: boolean;
  hvTsc?: boolean;
  vncPassword?: { policy: 'random' | 'secret'; length?: number };
  bootDrive: {
    source: { libraryDrive: string } | { drive: string };
    size?: number | string;
    storageType?: string;
    device?: 'virtio' | 'ide' | 'scsi';
    devChannel?: string;
  };
  nics: CloudSigmaNicSpec[];
  pubkeys?: string[];
  sshPublicKey?: string;
  tags?: string[];
  meta?: Record<string, string>;
}

export interface CloudSigmaNicSpec {
  model?: string;
  vlan?: string;
  ipv4?: { conf: 'dhcp' | 'static' | 'manual'; ip?: string };
  ipv6?: { conf: 'dhcp' | 'static' | 'manual'; ip?: string };
  bootOrder?: number;
}

/** The Secret data, decoded as UTF-8 strings. */
export interface CloudSigmaSecret {
  location?: string;
  username?: string;
  password?: string;
  token?: string;
  'oauth-client-id'?: string;
  'oauth-client-secret'?: string;
  'impersonate-user'?: string;
  'api-endpoint'?: string;
  'oauth-endpoint'?: string;
  'impersonation-endpoint'?: string;
  'vnc-password'?: string;
  userData?: string;
}

/** A reference to another object as the API writes it: `{uuid, resource_uri}`. */
export interface ApiRef {
  uuid: string;
  resource_uri?: string;
}

/** The server create body, one object of `{"objects": [...]}`. */
export interface CreateServerBody {
  name: string;
  cpu: number;
  mem: number;
  vnc_password: string;
  smp?: number;
  cpu_type?: string;
  cpu_model?: string;
  hypervisor?: string;
  cpus_instead_of_cores?: boolean;
  enable_numa?: boolean;
  hv_relaxed?: boolean;
  hv_tsc?: boolean;
  context: boolean;
  drives: Array<{ drive: string; device: string; dev_channel: string; boot_order: number }>;
  nics: Array<{
    model?: string;
    vlan?: string;
    ip_v4_conf?: { conf: string; ip?: string };
    ip_v6_conf?: { conf: string; ip?: string };
    boot_order?: number;
  }>;
  meta: Record<string, string>;
  tags?: string[];
  pubkeys?: string[];
}

/** The clone action's optional body (drives.rst "Request schema" plus size and storage_type). */
export interface CloneDriveBody {
  name: string;
  media: 'disk';
  size?: number;
  storage_type?: string;
}

/** A server as the API returns it: the fields the adapter reads. */
export interface CloudSigmaServer {
  uuid: string;
  name?: string;
  status?: string;
  meta?: Record<string, unknown> | null;
  owner?: ApiRef | null;
  drives?: Array<{ drive?: ApiRef | string | null; boot_order?: number | null; dev_channel?: string; device?: string }>;
  runtime?: {
    nics?: Array<{ interface_type?: string; ip_v4?: ApiRef | null; ip_v6?: ApiRef | null; mac?: string }>;
  } | null;
}

/** A drive as the API returns it: the fields the adapter reads. */
export interface CloudSigmaDrive {
  uuid: string;
  name?: string;
  status?: string;
  size?: number;
  storage_type?: string | null;
  media?: string;
  owner?: ApiRef | null;
  mounted_on?: ApiRef[];
}

/** Every list answer: `{meta: {limit, offset, total_count}, objects}`. */
export interface ListPage<T> {
  meta?: { limit?: number; offset?: number; total_count?: number; next?: string | null };
  objects?: T[];
}
