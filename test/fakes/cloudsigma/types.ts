// Public types of the CloudSigma API 2.0 fake. Field names follow specs/cloudsigma.yaml.
import type { CoreRecordedRequest, FaultSpec, ListingLagOptions } from '../core/index.js';

export type { FaultSpec, ListingLagOptions } from '../core/index.js';

export interface FakeUser {
  uuid: string;
  email: string;
  /** For HTTP Basic. */
  password?: string;
  /** Bearer tokens accepted for this user as they are. */
  tokens?: string[];
}

export interface CloudSigmaFakeOptions {
  /** Default: alice@example.com and bob@example.com (see DEFAULT_USERS). */
  users?: FakeUser[];
  /** The service-provider account of the impersonation flow (default FAKE_PARTNER). */
  serviceProvider?: { clientId: string; clientSecret: string; mayImpersonate?: string[] };
  /** A clone is cloning_dst, then unmounted once this long has passed (default 50). */
  cloneAfterMs?: number;
  /** A started server is starting, then running once this long has passed (default 50). */
  runningAfterMs?: number;
  /** A stopped server is stopping, then stopped once this long has passed (default 50). */
  stoppedAfterMs?: number;
  /**
   * A deleted server stays readable and listed this long, then answers 404 (default 50): deletion is
   * asynchronous, cloudsigma-docs servers.rst "204: No content, object deletion started".
   */
  deleteAfterMs?: number;
  /** A deleted drive, or one deleted with its server (counted from the server's 404), stays this long (default 50). */
  driveDeleteAfterMs?: number;
  /** expires_in of impersonated tokens (default 900). */
  impersonatedTtlSeconds?: number;
  /** Server listings lag creates and completed deletes (test/fakes/core/listing-lag.ts). Default none. */
  listingLag?: ListingLagOptions;
  /** Largest page a list answers, whatever `limit` asks (default 0 = no cap). */
  maxPageSize?: number;
  /** Port to listen on, 127.0.0.1 only (default 0 = any free port). */
  port?: number;
}

export interface FakeServerDrive {
  drive: string;
  device: string;
  dev_channel: string;
  boot_order?: number | null;
}

export interface FakeServerNic {
  ip_v4_conf?: { conf: string; ip?: string | null } | null;
  ip_v6_conf?: { conf: string; ip?: string | null } | null;
  model: string;
  mac: string;
  vlan?: string | null;
  boot_order?: number | null;
  firewall_policy?: string | null;
}

/** A server as the fake holds it, with its status as of the moment the snapshot was taken. */
export interface FakeServer {
  uuid: string;
  /** The owner's user uuid. */
  owner: string;
  name: string;
  cpu: number;
  mem: number;
  smp: number;
  vnc_password: string;
  cpu_type: string;
  cpu_model: string | null;
  hypervisor: string;
  cpus_instead_of_cores: boolean;
  enable_numa: boolean;
  hv_relaxed: boolean;
  hv_tsc: boolean;
  context: boolean;
  status: string;
  drives: FakeServerDrive[];
  nics: FakeServerNic[];
  meta: Record<string, string>;
  tags: string[];
  pubkeys: string[];
}

export interface FakeDrive {
  uuid: string;
  /** The owner's user uuid; null for a library drive. */
  owner: string | null;
  name: string;
  size: number;
  media: string;
  storage_type: string | null;
  status: string;
  meta: Record<string, unknown>;
  /** Servers it is attached to (derived). */
  mounted_on: string[];
  /** The drive it was cloned from. */
  clonedFrom?: string;
}

/** The core's request record (`authorization` keeps only its scheme, "Basic <redacted>"), plus the user it authenticated as. */
export interface RecordedRequest extends CoreRecordedRequest {
  /** E-mail of the user the request authenticated as, if any. */
  user?: string;
}

export interface SeedServer {
  /** Owner e-mail. */
  owner: string;
  name: string;
  uuid?: string;
  status?: string;
  meta?: Record<string, string>;
  drives?: FakeServerDrive[];
  nics?: Array<Partial<FakeServerNic>>;
  cpu?: number;
  mem?: number;
}

export interface SeedDrive {
  /** Owner e-mail; null for a library drive. */
  owner: string | null;
  name: string;
  uuid?: string;
  size?: number;
  status?: string;
  media?: string;
  storage_type?: string | null;
}

export interface CloudSigmaFake {
  /** http://127.0.0.1:PORT */
  url: string;
  /** `${url}/api/2.0/`, the API base URL. */
  apiUrl: string;
  /** `${url}`: the OAuth base; the token endpoint is /realms/cloudsigma/protocol/openid-connect/token. */
  oauthUrl: string;
  /** `${url}/service_provider/api/v1/user/impersonate` */
  impersonationUrl: string;
  users: FakeUser[];
  user(email: string): FakeUser;
  /** Every request in arrival order. */
  requests: RecordedRequest[];
  servers(): FakeServer[];
  /** The account's drives and the library drives. */
  drives(): FakeDrive[];
  seedServer(s: SeedServer): FakeServer;
  /** Many servers at once, cheaply (for listing tests). */
  seedServers(count: number, make: (i: number) => SeedServer): void;
  seedDrive(d: SeedDrive): FakeDrive;
  setServerStatus(uuid: string, status: string): void;
  setDriveStatus(uuid: string, status: string): void;
  /** From now on clones, starts, stops and deletes take these times (tests of slow clouds share the file's fake); reset() restores the start options. */
  setTiming(timing: Pick<CloudSigmaFakeOptions, 'cloneAfterMs' | 'runningAfterMs' | 'stoppedAfterMs' | 'deleteAfterMs' | 'driveDeleteAfterMs'>): void;
  /** From now on server listings lag creates and completed deletes this much ({} = no lag); reset() restores the start options. */
  setListingLag(lag: ListingLagOptions): void;
  /**
   * From now on these requests answer 503 "out of capacity" (cloudsigma-docs general.rst: 503 "when the
   * system is out of capacity"), error_type `backend` (errors.rst names no type for it); [] restores capacity.
   */
  setOutOfCapacity(gates: Array<'clone' | 'create' | 'start'>): void;
  /** An ACL grant (cloudsigma-docs acls.rst): `grantee` (e-mail) gets these permissions (LIST, EDIT, ...) on the object. */
  share(objectUuid: string, grantee: string, permissions: string[]): void;
  /** How many tokens each step of the impersonation flow issued since start or reset(). */
  readonly tokensIssued: { serviceAccount: number; rpt: number; impersonated: number };
  injectFault(f: FaultSpec): void;
  clearFaults(): void;
  /** Revoke every access token issued so far (the cloud's answer to them becomes 401). */
  revokeTokens(): void;
  /** Every access token issued since start, revoked ones too. */
  issuedTokens(): string[];
  /** Drop servers, the account's drives, recorded requests and faults; library drives, users and issued tokens stay. */
  reset(): void;
  close(): Promise<void>;
}
