/** The providerSpec, as its JSON Schema (provider-spec.schema.json) allows it. */
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
    source: { type: 'image' | 'volume'; id: string };
  };
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
export interface CreateServerPayload extends Omit<StackitProviderSpec, 'region'> {
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
}

export interface ServiceAccountKey {
  credentials: { kid: string; iss: string; sub: string; aud: string; privateKey?: string; tokenEndpoint?: string };
}
