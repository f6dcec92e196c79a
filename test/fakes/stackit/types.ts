// Public types of the STACKIT IaaS v2 fake. Field names follow specs/stackit-iaas.yaml.
import type { CoreRecordedRequest, FaultSpec, ListingLagOptions } from '../core/index.js';

export type { FaultSpec, ListingLagOptions } from '../core/index.js';

export interface StackitFakeOptions {
  /** Answer listings as if label_selector were not sent (every server of the project): the driver's own label re-check must then keep other clusters' and classes' VMs out. */
  ignoreLabelSelector?: boolean;
  /** A new server is CREATING and becomes ACTIVE once this long has passed (default 50). */
  activeAfterMs?: number;
  /**
   * A deleted server stays visible as DELETING for this long, then GET answers 404 (default 50):
   * DELETE answers 204 at once and the server goes later, which is why stackit-sdk-go's
   * services/iaas/wait DeleteServerWaitHandler polls GET until 404 (or status DELETED).
   */
  deleteAfterMs?: number;
  /** Listings (with or without label_selector) lag creates and completed deletes (test/fakes/core/listing-lag.ts). Default none. */
  listingLag?: ListingLagOptions;
  /** Start with no capacity: see StackitFake.setOutOfCapacity. */
  outOfCapacity?: boolean;
  /** Bearer tokens accepted as-is (default ['fake-static-token']). */
  staticTokens?: string[];
  /** Service-account public keys (SPKI or PKCS#1 PEM) whose RS512 assertions /token accepts, by JWT header `kid`. */
  trustedKeys?: Array<{ kid: string; publicKeyPem: string }>;
  /** expires_in of tokens issued by /token (default 3600). */
  tokenTtlSeconds?: number;
  /** Port to listen on, 127.0.0.1 only (default 0 = any free port). */
  port?: number;
  /**
   * A simulated slow cloud: every request (/token included) is answered this long after it
   * arrived, then handled as usual (default 0 = no delay). Used by the benchmarks (bench/).
   */
  latencyMs?: number;
}

export type CreateServerNetworking = { networkId: string } | { nicIds: string[] };

export interface BootVolumeSource {
  type: string;
  id: string;
}

export interface FakeBootVolume {
  id?: string;
  deleteOnTermination?: boolean;
  // Write-only in the API: kept here so tests can see what was asked for, never returned over HTTP.
  size?: number;
  performanceClass?: string;
  source?: BootVolumeSource;
}

export interface FakeNic {
  nicId: string;
  networkId: string;
  networkName: string;
  mac: string;
  nicSecurity: boolean;
  ipv4?: string;
  ipv6?: string;
  publicIp?: string;
  /** IPs/CIDRs anti-spoofing lets this NIC send from (vendor spec ServerNetwork / NIC allowedAddresses). */
  allowedAddresses?: string[];
}

/** A server as the fake holds it, with its status as of the moment the snapshot was taken. */
export interface FakeServer {
  projectId: string;
  region: string;
  id: string;
  name: string;
  machineType: string;
  status: string;
  powerStatus?: string;
  errorMessage?: string;
  labels: Record<string, string>;
  metadata?: Record<string, unknown>;
  imageId?: string;
  availabilityZone: string;
  affinityGroup?: string;
  keypairName?: string;
  /** base64, exactly as sent. */
  userData?: string;
  /** Write-only in the API: never returned over HTTP. */
  securityGroups?: string[];
  serviceAccountMails?: string[];
  agent?: { provisioned?: boolean };
  configDrive?: boolean;
  networking?: CreateServerNetworking;
  bootVolume?: FakeBootVolume;
  volumes?: string[];
  nics: FakeNic[];
  createdAt: string;
  updatedAt: string;
  launchedAt?: string;
}

export interface FakeVolume {
  id: string;
  projectId: string;
  region: string;
  availabilityZone: string;
  size?: number;
  performanceClass?: string;
  source?: BootVolumeSource;
  deleteOnTermination: boolean;
  /** Server the volume is attached to as boot volume; unset once that server is gone. */
  serverId?: string;
  createdAt: string;
}

/** The core's request record (`authorization` is replaced by '<redacted>'; bodies of /token are parsed forms). */
export type RecordedRequest = CoreRecordedRequest;

export interface StackitFake {
  /** http://127.0.0.1:PORT, the IaaS base URL (paths start with /v2/...). */
  url: string;
  /** `${url}/token`, the service-account token endpoint. */
  tokenUrl: string;
  /** Snapshot of live servers (including DELETING ones). */
  servers(): FakeServer[];
  /** Volumes the fake knows: boot volumes it created or was asked to boot from. */
  volumes(): FakeVolume[];
  /** Insert a server directly, e.g. a foreign VM for orphan tests. ACTIVE unless `status` is given. */
  seedServer(s: Partial<FakeServer> & { projectId: string; region: string; name: string }): FakeServer;
  /** Pin a server's status (e.g. 'ERROR', 'no valid host was found') until it is deleted. */
  setServerStatus(id: string, status: string, errorMessage?: string): void;
  /** Every request in arrival order, /token included. */
  requests: RecordedRequest[];
  /** How many tokens /token has issued since start or the last reset(). */
  readonly tokensIssued: number;
  /** From now on servers become ACTIVE / finish deleting after these times (tests of slow clouds share the file's fake); reset() restores the start options. */
  setTiming(timing: Pick<StackitFakeOptions, 'activeAfterMs' | 'deleteAfterMs'>): void;
  /** From now on listings lag creates and completed deletes this much ({} = no lag); reset() restores the start options. */
  setListingLag(lag: ListingLagOptions): void;
  /**
   * From now on a create is accepted (201) and the server then lands in ERROR with OpenStack Nova's
   * NoValidHost message "No valid host was found. There are not enough hosts available." (STACKIT
   * IaaS runs on OpenStack; STACKIT's MCM provider maps "no valid host" in errorMessage to
   * ResourceExhausted, see ../shared/docs/cloud-apis.md 1.4). false restores capacity.
   */
  setOutOfCapacity(on: boolean): void;
  injectFault(f: FaultSpec): void;
  clearFaults(): void;
  /** Revoke every access token issued so far (the cloud's answer to them becomes 401). */
  revokeTokens(): void;
  /** Every access token issued since start, revoked ones too. */
  issuedTokens(): string[];
  /** Drop servers, volumes, recorded requests and faults. Issued tokens stay valid. */
  reset(): void;
  close(): Promise<void>;
}
