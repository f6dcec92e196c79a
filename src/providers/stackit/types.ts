/** The providerSpec, as its JSON Schema (provider-spec.schema.json) allows it, after dropUnset (no null or empty option). */
export interface StackitProviderSpec {
  region: string;
  machineType: string;
  imageId?: string;
  labels?: Record<string, string>;
  networking: { networkId: string } | { nicIds: string[] };
  securityGroups?: string[];
  bootVolume?: {
    size?: number;
    performanceClass?: string;
    deleteOnTermination?: boolean;
    source: { type: 'image' | 'snapshot' | 'volume'; id: string };
  };
  /** CIDRs added to the allowed addresses of the server's NICs in its network (not part of the create payload). */
  allowedAddresses?: string[];
  /** Replaces the Secret's userData (plain text). */
  userData?: string;
  volumes?: string[];
  keypairName?: string;
  availabilityZone?: string;
  affinityGroup?: string;
  serviceAccountMails?: string[];
  agent?: { provisioned?: boolean };
  configDrive?: boolean;
  metadata?: Record<string, string>;
}

/** The Secret data, decoded as UTF-8 strings. */
export interface StackitSecret {
  'project-id': string;
  'serviceaccount.json'?: string;
  'private-key'?: string;
  token?: string;
  userData?: string;
  'iaas-endpoint'?: string;
  'token-endpoint'?: string;
}

/** IaaS v2 CreateServerPayload: what the adapter sends. */
export interface CreateServerPayload extends Omit<StackitProviderSpec, 'region' | 'allowedAddresses' | 'userData'> {
  name: string;
  labels: Record<string, string>;
  userData?: string;
}

/** IaaS v2 Server: the fields the adapter reads. */
export interface StackitServer {
  id: string;
  name: string;
  status?: string;
  errorMessage?: string;
  labels?: Record<string, string>;
  nics?: Array<{ ipv4?: string; ipv6?: string; publicIp?: string; networkId?: string; nicId?: string }>;
  /** Read-only date-time (IaaS v2 Server.createdAt): which of two twins is older. */
  createdAt?: string;
}

/** IaaS v2 NIC: the fields the adapter reads (GET .../servers/{serverId}/nics). */
export interface StackitNic {
  id: string;
  networkId?: string;
  ipv4?: string;
  ipv6?: string;
  allowedAddresses?: string[];
}

export interface ServiceAccountKey {
  credentials: { kid: string; iss: string; sub: string; aud: string; privateKey?: string; tokenEndpoint?: string };
}
