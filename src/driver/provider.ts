import type { MachineCode } from './codes.js';

/**
 * The small interface one cloud implements: an API adapter. Everything
 * provider-neutral (idempotent create, "may have taken effect", the discovery
 * window, adoption, twins, single-flight, waiting, cleanup, code mapping,
 * orphan safety of delete and list) lives in MachineDriver; a cloud only
 * answers "what exists" and takes one step of "make / remove this one VM" per
 * call. No provider waits, sleeps or answers DeadlineExceeded itself: where a
 * step takes time (a boot drive clone, a stop before delete, a drive being
 * deleted) the adapter says so and MachineDriver polls under its own
 * DriverTimings (src/driver/poll.ts, the one polling helper). Shared plumbing
 * (Secret decoding, problem collection, bounded client cache) is in
 * src/providers/kit/.
 */

export type SecretData = Readonly<Record<string, Buffer>>;

export interface NodeAddress {
  type: string;
  address: string;
}

/** The parts of MCM's Machine object a driver may rely on (the orphan stub has only these). */
export interface MachineRef {
  name: string;
  namespace: string;
  providerId: string;
  lastKnownState: string;
}

export interface MachineClassRef {
  name: string;
  namespace: string;
  provider: string;
  providerSpec: unknown;
}

export type VmState = 'creating' | 'running' | 'failed' | 'deleting' | 'stopped' | 'unknown';

export interface VmRecord {
  /** Byte-identical in CreateMachine, GetMachineStatus and ListMachines. */
  providerId: string;
  /** The Machine named by the VM's marker; undefined when it has none. */
  machineName: string | undefined;
  state: VmState;
  /** The cloud's reason, for a failed VM. */
  failureMessage?: string;
  /** The code a failed VM maps to (quota/capacity → ResourceExhausted). */
  failureCode?: MachineCode;
  addresses: NodeAddress[];
  /** When the cloud made the VM (ISO 8601), where the cloud says; decides which of two twins is the Machine's. */
  createdAt?: string;
}

/**
 * One VM of a ListMachines listing: only what the answer needs (no addresses,
 * no failure detail), so a listing of 50,000 VMs keeps three short fields per VM.
 */
export type ListedVm = Pick<VmRecord, 'providerId' | 'machineName' | 'state'>;

/**
 * What create() tells MachineDriver, and the one rule it leaves to it, while
 * it runs. Every create() calls beforeVmRequest() right before the request
 * that makes the VM: whatever it throws before that call made no VM, so the
 * driver holds nothing back for it (create-outcome.ts NoVmRequestedError);
 * what it throws after is judged by the driver's one classifier.
 */
export interface CreateHooks {
  /**
   * Called right before the VM's own create request is sent (after earlier
   * steps such as a boot drive clone, which may take minutes): the discovery
   * window of an unknown outcome starts here, and the intent is written again.
   */
  beforeVmRequest(): void;
  /**
   * Sends one request of a step before the VM's (CloudSigma: the boot drive
   * clone; VPSie: the boot script add) under the driver's rules for a lost
   * answer, the same as for the VM's own request: `request` answers what it
   * made, or undefined when the cloud accepted it without naming it (VPSie's
   * script add answers no id). A refusal is thrown. When the request may have
   * taken effect (the driver's classifier) or named nothing, the driver calls
   * `findMade`, the adapter's lookup of what that request makes (by the
   * Machine's name), and answers what it finds. Found nothing: the call
   * fails, and until the provider's discovery window has passed the driver
   * sends that step's request for the Machine no second time; it calls
   * `findMade` instead.
   */
  stepRequest<T>(step: string, request: () => Promise<T | undefined>, findMade: () => Promise<T | undefined>): Promise<T>;
}

/**
 * create()'s answer when a step before the VM's own create request is still
 * running in the cloud (CloudSigma: the boot drive clone). No VM request was
 * sent in that call. MachineDriver waits (its poll interval, its
 * createTimeoutMs) and calls create() again with the Machine's lastKnownState
 * set to `lastKnownState`, which names the step's resource so the adapter
 * continues with it and never repeats the request that made it. On the
 * driver's deadline the call answers DeadlineExceeded with this
 * lastKnownState, and MCM's next CreateMachine continues the same way.
 */
export interface StepInProgress {
  stepInProgress: {
    /** The step, for messages and logs: 'boot drive clone'. */
    step: string;
    /** What it waits for, for messages: 'drive <uuid> is cloning_dst'. */
    waitingFor: string;
    /** What the next create() continues with (MachineRef.lastKnownState). */
    lastKnownState: string;
  };
}

export function isStepInProgress(answer: unknown): answer is StepInProgress {
  return typeof answer === 'object' && answer !== null && 'stepInProgress' in answer;
}

/**
 * delete()'s answer: 'requested' once the cloud accepted the deletion (or the
 * VM is gone); 'call again' when a step had to come first (CloudSigma: a
 * running server was asked to stop, or is still stopping) and the deletion
 * itself is not requested yet. MachineDriver calls again on its next poll.
 */
export type DeleteProgress = 'requested' | 'call again';

/**
 * releaseMachine()'s answer: undefined when nothing the Machine owned is left,
 * else what is still on its way out (for the message), and MachineDriver calls
 * again on its next poll.
 */
export type StillLeft = string | undefined;

/** One cloud, bound to one MachineClass and its Secret. */
export interface CloudSession {
  /** undefined when the VM does not exist; InvalidArgument when the ID is not this cloud's. */
  get(providerId: string, signal: AbortSignal): Promise<VmRecord | undefined>;
  /** VMs carrying this cluster's markers for the Machine (any class: a Machine may change class). */
  findByMachine(machineName: string, signal: AbortSignal): Promise<VmRecord[]>;
  /**
   * Makes the Machine's VM: the cloud requests it takes, in order (CloudSigma:
   * clone the boot drive, create the server, start it; VPSie: add the boot
   * script, create the VM; STACKIT: create the server), each sent once, no
   * lookup of an earlier VM, no retry of a request that creates, no waiting
   * (neither for a step nor for the VM to run), no adoption. A step the cloud
   * still runs is answered as StepInProgress. The VM's own request comes
   * right after hooks.beforeVmRequest(). Answers the VM (with its providerID) once the
   * cloud named it, or undefined when the cloud accepted the create without
   * naming the VM (an asynchronous create: the driver discovers it by its
   * markers). Throws what the cloud answered otherwise; MachineDriver alone
   * decides (create-outcome.ts) whether the create may have taken effect, and
   * keeps the Machine from a second create until its VM is found or the
   * provider's discovery window has passed. A step's leftovers (a cloned boot
   * drive) carry the Machine's name: no adapter cleans up after a failed
   * create; the next create reuses them, and MachineDriver removes them
   * (releaseMachine) after a refusal that needs a human and on DeleteMachine. The VM may come back stopped on
   * a cloud whose VMs do not boot by themselves: starting it is the driver's
   * step (start()).
   */
  create(machine: MachineRef, signal: AbortSignal, hooks: CreateHooks): Promise<VmRecord | StepInProgress | undefined>;
  /**
   * One step towards deleting exactly this VM and what it alone uses (a boot
   * drive made for it): the deletion request, or the step it needs first
   * (CloudSigma: stop a running server; a stopping one is left alone). Already
   * gone is 'requested'. It never waits: MachineDriver calls again while the
   * answer is 'call again' and polls get() until the VM is gone. A VM these
   * credentials may not touch is PermissionDenied, never gone.
   */
  delete(providerId: string, signal: AbortSignal): Promise<DeleteProgress>;
  /**
   * VMs with this cluster's and this class's markers, one page at a time as the
   * cloud answers them: ListMachines writes each page into its answer and
   * drops it before the next is read, so neither the cloud's objects nor a
   * record per VM of the whole listing are held at once (issue 15: 50,000
   * VMs). The next page is asked for only when the caller wants it. A VM may
   * come again in a later page (a listing read again while it changed): the
   * later entry is the one that counts.
   */
  list(signal: AbortSignal): AsyncIterable<readonly ListedVm[]>;
  /**
   * Only for clouds whose VMs do not boot by themselves (CloudSigma): one
   * request asking the cloud to start a VM in state 'stopped'. With it, a
   * stopped VM counts as not initialized: GetMachineStatus answers
   * Uninitialized, InitializeMachine starts it, and CreateMachine starts the
   * VM it created or adopted. A start that answers an error is judged by the
   * driver (it reads the VM: one no longer stopped is starting).
   */
  start?(providerId: string, signal: AbortSignal): Promise<void>;
  /**
   * Optional: one pass removing what a cloud keeps per Machine besides the VM
   * (VPSie: the per-Machine boot script; CloudSigma: a boot drive not deleted
   * with its server). DeleteMachine calls it with the Machine's name after the
   * VMs it deleted are gone, and again on each poll while it answers something
   * still left; it must leave things alone while a VM of that Machine still
   * exists (e.g. the orphan stub named a duplicate). A failed removal throws,
   * so DeleteMachine fails and MCM's next call retries it; it never waits.
   */
  releaseMachine?(machineName: string, signal: AbortSignal): Promise<StillLeft>;
  /**
   * Optional: finishes a running VM before CreateMachine reports it (STACKIT:
   * adds the class's allowedAddresses to the VM's NICs). MachineDriver calls it
   * on every CreateMachine that reaches a running VM, created or adopted, so it
   * must be idempotent; its answer (e.g. addresses read from the NICs) is what
   * CreateMachine reports.
   */
  completeRunning?(vm: VmRecord, signal: AbortSignal): Promise<VmRecord>;
}

/**
 * What a session is opened for; MachineDriver decides it per call.
 * - 'create': CreateMachine makes a VM, so the whole providerSpec must validate.
 * - 'manage': status, initialize, delete and list only read, start or remove
 *   VMs that exist. They need only what they use (credentials, region,
 *   endpoints, the names that scope them), so a class that no longer
 *   validates for create (a renamed machine type, a field a later version
 *   refuses) still deletes and reports its VMs. What is really missing for
 *   these calls is still InvalidArgument.
 */
export type SessionPurpose = 'create' | 'manage';

export interface CloudProvider {
  /** The MachineClass `provider` value, matched case-insensitively. */
  readonly name: string;
  /** The JSON Schemas of providerSpec and Secret data, for editors and `mcm-driver validate`. */
  readonly schemas?: { providerSpec: object; secret: object };
  /**
   * Validates the Secret and what `purpose` needs of the class's providerSpec
   * (all problems at once) and binds a session. With 'manage', create-only
   * fields are not validated and create() may refuse with InvalidArgument.
   */
  open(machineClass: MachineClassRef, secret: SecretData, purpose: SessionPurpose): Promise<CloudSession>;
  /**
   * How long after a create with an unknown outcome its VM may stay invisible
   * to findByMachine (the cloud's documented listing lag, with margin). Until
   * then MachineDriver sends no second create for the Machine. Default
   * DEFAULT_DISCOVERY_WINDOW_MS (machine-driver.ts).
   */
  readonly discoveryWindowMs?: number;
  /** The volume ID MCM waits on during drain, or undefined when the PV is not this cloud's. */
  volumeId(pvSpec: Record<string, unknown>): string | undefined;
}
