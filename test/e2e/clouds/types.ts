// What the e2e suite needs to know about one cloud. Adding a cloud is one file
// exporting a CloudDescriptor (see stackit.ts) and one line in index.ts; every
// scenario then runs for it too.
//
// A cloud has two halves:
// - the suite side (Secret, providerSpec, sidecar environment), used by the
//   scenarios against Kubernetes;
// - the fake side (`fake()`), loaded only inside the fake-cloud process
//   (../fake-cloud/main.ts), which runs the stateful fake and exposes the
//   admin API the suite uses to count, seed and break VMs. The suite never
//   touches the fake in-process, so the same scenarios work when the fake runs
//   in a kind pod.

/** A VM of the fake, as the scenarios compare it with Machines. */
export interface NormalizedVm {
  id: string;
  /** Exactly the providerID the driver reports for it. */
  providerId: string;
  name: string;
  /** The cloud's own status word (e.g. CREATING, ACTIVE, DELETING). */
  status: string;
  /** True while the cloud is deleting it (it still exists). */
  deleting: boolean;
  /** The driver's markers on the VM, if it has them. */
  machine?: string;
  machineClass?: string;
  cluster?: string;
  /** The boot data the VM got (decoded), where the fake can tell: MCM's userData after its substitutions. */
  userData?: string;
}

/**
 * A VM put straight into the fake. With markers it looks exactly like one the
 * driver made for that Machine, MachineClass and cluster (the MachineClass
 * namespace); without markers it is a hand-made VM in the same account.
 */
export interface SeedRequest {
  name: string;
  markers?: { machine: string; machineClass: string; cluster: string };
}

/** Which cloud API calls a fault hits. */
export type FaultOp = 'create' | 'get' | 'list' | 'delete' | 'any';

export interface FaultRequest {
  op: FaultOp;
  /** Answer with this HTTP status (state untouched). */
  status?: number;
  /** How many matching requests (default 1). */
  times?: number;
  /** Wait this long first. */
  delayMs?: number;
  /**
   * Handle the request (state changes), then lose its answer: `drop` closes the connection, `{status}`
   * answers that 5xx as a gateway would (test/fakes/core/fault-spec.ts AfterSuccess).
   */
  afterSuccess?: 'drop' | { status: number };
  headers?: Record<string, string>;
}

/** The fake as the fake-cloud process drives it. */
export interface FakeCloudInstance {
  /** Base URL the driver (or Prism in front) talks to. */
  url: string;
  vms(): NormalizedVm[];
  seed(req: SeedRequest): NormalizedVm;
  /** Delete a VM (e.g. a survivor of the orphan scenario) through the fake's own API. */
  remove(id: string): Promise<void>;
  injectFault(f: FaultRequest): void;
  clearFaults(): void;
  /** Listings lag creates and completed deletes ({} = none): test/fakes/core/listing-lag.ts. Absent where a cloud's fake has no lag. */
  setListingLag?(lag: { createMs?: number; deleteMs?: number }): void;
  /** Machine names of every create request the fake received, in order. */
  createdMachines(): string[];
  close(): Promise<void>;
}

export interface FakeTiming {
  /** A new VM becomes running after this long. */
  activeAfterMs: number;
  /** A deleted VM disappears after this long. */
  deleteAfterMs: number;
}

export interface CloudDescriptor {
  /** Short id: object names, admin API path, summary table. */
  id: string;
  /** MachineClass `provider`. */
  provider: string;
  /** OpenAPI document Prism validates the traffic against (repo-relative); none = no Prism. */
  specFile?: string;
  /** Environment of the sidecar so it talks to `apiUrl` (Prism, or the fake). */
  sidecarEnv(apiUrl: string): Record<string, string>;
  /** Secret data (plain strings) of the MachineClass; `userData` included. */
  secretData(): Record<string, string>;
  /** providerSpec of the two MachineClasses (the rolling update goes from v1 to v2). */
  providerSpec(variant: 'v1' | 'v2'): Record<string, unknown>;
  /** The fake side; only imported by the fake-cloud process. */
  fake(timing: FakeTiming, port: number): Promise<FakeCloudInstance>;
}
