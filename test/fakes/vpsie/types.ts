// Public types of the VPSie fake. Field names follow specs/vpsie.yaml (VPSie's own Go clients).
import type { CoreRecordedRequest, FaultSpec, ListingLagOptions } from '../core/index.js';

export type { FaultSpec, ListingLagOptions } from '../core/index.js';

/** The delays of a VM's and a script's life (VpsieFakeOptions); setTiming changes them from now on. */
export interface VpsieTiming {
  pendingAfterMs: number;
  visibleAfterMs: number;
  runningAfterMs: number;
  deleteAfterMs: number;
  scriptVisibleAfterMs: number;
}

export interface VpsieFakeOptions {
  /** A created VM shows up in GET /vm/pending this long after the create request (default 0). */
  pendingAfterMs?: number;
  /** ...and leaves the pending view for GET /vm (and GET /vm/{id}) this long after the request (default 50). */
  visibleAfterMs?: number;
  /** Once listed, it is powered off and inactive for this long, then power=1, is_active=1 (default 50). */
  runningAfterMs?: number;
  /** A deleted VM stays listed (powered off, locked) for this long, then is gone (default 50). */
  deleteAfterMs?: number;
  /** A script added with POST /script/add shows up in GET /scripts this long later (default 0). */
  scriptVisibleAfterMs?: number;
  /** Values of the Vpsie-Auth header that are accepted (default ['fake-vpsie-token']). */
  tokens?: string[];
  /** The account password DELETE /vm wants (default 'fake-account-password'). */
  accountPassword?: string;
  /** Refuse a create whose hostname a VM (listed or pending) already has; whether VPSie does is [unconfirmed]. Default false. */
  rejectDuplicateHostnames?: boolean;
  /**
   * Status of the answer to an unknown VM or script (GET, DELETE), always with message "… not found".
   * VPSie's clients never read the status [sdk: vpsieinc/govpsie govpsie.go Do]; the Terraform provider
   * keys on the message [sdk: terraform-provider-vpsie server_resource.go Read]. Default 404.
   */
  notFoundStatus?: number;
  /** Rows per page of GET /vm and GET /scripts when the request names no `limit` (default: all) [unconfirmed]. */
  defaultPageSize?: number;
  /** The largest page served whatever `limit` asks (default 1000) [unconfirmed]. */
  maxPageSize?: number;
  /** false: GET /scripts leaves out each `script` body; GET /script/{id} has it [sdk: govpsie GetScript]. Default true. */
  scriptListBodies?: boolean;
  /** What VPSie does to a stored `notes` text, e.g. trimming or HTML-encoding [unconfirmed]; default verbatim. */
  transformNotes?: (notes: string) => string;
  /** Answer 429 (Retry-After: 1) beyond this many requests a minute [unconfirmed; VPSie's autoscaler stays at 100]. */
  rateLimitPerMinute?: number;
  /** GET /vm lags creates (the VM stays in the pending view) and completed deletes (listing.ts). Default none. */
  listingLag?: ListingLagOptions;
  /** Start with no capacity: see VpsieFake.setOutOfCapacity. */
  outOfCapacity?: boolean;
  /** Port to listen on, 127.0.0.1 only (default 0 = any free port). */
  port?: number;
}

/** A VM as the fake holds it, with the phase it is in at the moment of the snapshot. */
export interface FakeVm {
  id: number;
  identifier: string;
  hostname: string;
  projectId: string | number;
  dcIdentifier: string;
  resourceIdentifier: string;
  osIdentifier: string;
  notes?: string;
  tags: string[];
  sshKeyIdentifier?: string;
  scriptIdentifier?: string;
  /** base64, exactly as sent. */
  userData?: string;
  ssd?: number;
  /** The 0/1 flags as they were sent (strings; numbers are ignored like the real API [sdk]). */
  flags: Record<string, string>;
  private_ip: string;
  default_ip?: string;
  default_ipv6?: string;
  is_suspended: number;
  is_terminated: number;
  is_deleted: number;
  /** invisible → pending → listed → running; deleting; gone is not in snapshots. */
  phase: 'invisible' | 'pending' | 'listed' | 'running' | 'deleting';
  /** The pending entry's own id (not the VM identifier). */
  pendingId: string;
  createdAtMs: number;
}

export interface FakeScript {
  identifier: string;
  script_name: string;
  script: string;
  scriptType: string;
  tags: string[];
  created_on: string;
  visibleAtMs: number;
}

/** The core's request record (`vpsie-auth` is replaced by '<redacted>'). */
export type RecordedRequest = CoreRecordedRequest;

export interface VpsieFake {
  /** http://127.0.0.1:PORT */
  url: string;
  /** `${url}/apps/v2`: pending view, scripts, and the older VM path. */
  apiUrl: string;
  /** `${url}/api/v2`: the VM path of VPSie's newest client. */
  vmApiUrl: string;
  /** Every request in arrival order. */
  requests: RecordedRequest[];
  /** Every VM the fake knows that is not gone, in every phase. */
  vms(): FakeVm[];
  scripts(): FakeScript[];
  /** A VM that is listed and running right away, e.g. a foreign one. */
  seedVm(v: Partial<FakeVm> & { hostname: string; projectId: string | number }): FakeVm;
  /** An entry that stays in the pending view (and never becomes a VM) until reset. */
  seedPending(p: { hostname: string; projectId: string | number; tags?: unknown[] }): void;
  seedScript(s: { name: string; script: string; tags?: string[] }): FakeScript;
  /** Change a VM's flags, e.g. { is_suspended: 1 }. */
  patchVm(identifier: string, patch: Partial<Pick<FakeVm, 'is_suspended' | 'is_terminated' | 'is_deleted' | 'notes'>>): void;
  /** For VMs created from now on: how long they stay in the pending view before they are listed. */
  setVisibleAfterMs(ms: number): void;
  /**
   * From now on these delays apply (deleteAfterMs and runningAfterMs also to VMs already there: the
   * store derives phases when it is read); reset() restores the start options. A larger
   * deleteAfterMs is "deletes complete later": DELETE answers at once, the VM stays listed, locked.
   */
  setTiming(timing: Partial<VpsieTiming>): void;
  /** From now on GET /vm lags creates and completed deletes this much ({} = none); reset() restores the start options. */
  setListingLag(lag: ListingLagOptions): void;
  /** From now on a create is refused, HTTP 200 with VPSie's error body naming no capacity (routes.ts noCapacity, [unconfirmed]); false restores. */
  setOutOfCapacity(on: boolean): void;
  /** Make GET /vm answer a `total` this much larger than its list (a list that left VMs out). */
  setListTotalExtra(n: number): void;
  injectFault(f: FaultSpec): void;
  clearFaults(): void;
  /** Drop VMs, pending entries, scripts, recorded requests and faults; timing, lag and capacity as started. */
  reset(): void;
  close(): Promise<void>;
}
