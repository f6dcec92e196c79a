import { isNotFound } from '../http/cloud-api-error.js';
import { logger } from '../observability/logger.js';
import { vmCreateDuration } from '../observability/metrics.js';
import { MachineCode } from './codes.js';
import { CreateIntents, INTENT_KEY, type CreateIntent, withIntent } from './create-intents.js';
import { NoVmRequestedError, isNoVmRequested, mayHaveTakenEffect, runCreate } from './create-outcome.js';
import { asMachineError } from './errors.js';
import { MachineError } from './machine-error.js';
import { readMachine, readMachineClass, throwIfProblems } from './machine-request.js';
import { pollUntil } from './poll.js';
import {
  isStepInProgress,
  type CloudProvider,
  type CloudSession,
  type CreateHooks,
  type DeleteProgress,
  type MachineClassRef,
  type MachineRef,
  type NodeAddress,
  type SecretData,
  type SessionPurpose,
  type StepInProgress,
  type VmRecord,
} from './provider.js';
import type { ProviderRegistry } from './provider-registry.js';
import { SingleFlight } from './single-flight.js';
import { StepHolds } from './step-holds.js';

export interface MachineCall {
  machine?: Uint8Array;
  machineClass?: Uint8Array;
  secretData: SecretData;
}

export interface MachineStatus {
  providerId: string;
  nodeName: string;
  addresses: NodeAddress[];
}

export interface DriverTimings {
  /**
   * How long one CreateMachine waits, for the steps before the VM (a boot
   * drive clone) and for the VM to run, before DeadlineExceeded (MCM retries in 5 s).
   */
  createTimeoutMs: number;
  /** How long one DeleteMachine waits: for a step before the deletion (a stop), the VM to be gone, and what it owned to go. */
  deleteTimeoutMs: number;
  /** How often every wait above reads the cloud (pollUntil, poll.ts); providers never wait themselves. */
  pollIntervalMs: number;
  /**
   * Overrides every provider's discoveryWindowMs (tests; an operator who knows
   * the cloud's listing lag better). Unset: the provider's, else DEFAULT_DISCOVERY_WINDOW_MS.
   */
  discoveryWindowMs?: number;
}

export interface DriverOptions extends Partial<DriverTimings> {
  /** A writable directory for the create intent journal (--state-dir); unset: no journal. */
  stateDir?: string;
}

/**
 * How long after a create whose outcome is unknown the driver waits for the VM
 * to show up before it may send another create, for a provider that does not
 * say: three times the longest listing lag an SDK of ours documents
 * (pycloudsigma polls listings up to 20 s after a create, see cloudsigma-provider.ts).
 */
export const DEFAULT_DISCOVERY_WINDOW_MS = 60_000;

/** Below the bridge's 5 min call deadline, so the sidecar answers (with lastKnownState) before the bridge gives up. */
export const defaultTimings: DriverTimings = { createTimeoutMs: 4 * 60_000, deleteTimeoutMs: 4 * 60_000, pollIntervalMs: 2_000 };

interface Bound {
  provider: CloudProvider;
  session: CloudSession;
  machineClass: MachineClassRef;
}

/**
 * The provider-neutral lifecycle rules MCM relies on. Every method lists the
 * codes it returns and what MCM then does (mcm-contract.md §3).
 */
export class MachineDriver {
  private readonly creates = new SingleFlight<MachineStatus>();
  private readonly timings: DriverTimings;
  private readonly intents: CreateIntents;
  private readonly stepHolds = new StepHolds();

  constructor(
    private readonly providers: ProviderRegistry,
    options: DriverOptions = {},
  ) {
    const { stateDir, ...timings } = options;
    this.timings = { ...defaultTimings, ...timings };
    this.intents = new CreateIntents(stateDir);
  }

  /**
   * Finds the Machine's VM: by spec.providerID, or, when that is empty, by the
   * Machine's markers plus the VM a recent create named (a listing may lag
   * behind a create). MCM calls this first in its creation flow.
   * - OK: MCM adopts providerID/nodeName.
   * - NotFound: no such VM and no create outstanding; with an empty providerID MCM calls CreateMachine.
   * - Unavailable: a create whose outcome is unknown is inside its discovery window and its VM
   *   is not visible yet, or an earlier VM of the Machine is still being deleted; MCM keeps
   *   lastKnownState and retries in 5 s (machine_util.go machineCreateErrorHandler).
   * - Internal / ResourceExhausted: the VM failed. With an empty providerID the failed VM is
   *   also removed here (MCM's creation flow never calls CreateMachine while this answers
   *   an error), so a later call answers NotFound and MCM creates a new one; a removal that
   *   fails is retried by the next call. MCM retries in 3 / 10 min.
   * - Two VMs with the Machine's markers: the Machine's is kept (its providerID, else the oldest),
   *   the other is removed and the kept one reported (MCM's orphan sweep skips Machines in
   *   phase "" and CrashLoopBackOff, so nothing else would remove it).
   * - InvalidArgument: bad class, Secret or Machine; retry in 3 min.
   * - Unavailable / DeadlineExceeded / Unauthenticated / PermissionDenied: from the cloud call (table in README).
   */
  async getMachineStatus(call: MachineCall, signal: AbortSignal): Promise<MachineStatus> {
    const { machine, bound } = await this.bindMachine(call, 'manage');
    try {
      const found = await this.findMachineVm(bound, machine, signal);
      if (!found.vm) throw this.notVisible(bound, machine, found);
      const vm = found.vm;
      // In MCM's creation flow (no providerID yet) a failed VM is removed here: MCM calls CreateMachine only after NotFound.
      if (vm.state === 'failed' && !machine.providerId) await this.removeFailedVm(bound.session, vm, signal);
      failIfFailed(vm);
      const status = this.statusOf(machine, vm);
      if (vm.state === 'stopped' && bound.session.start) {
        throw new MachineError(MachineCode.Uninitialized, `VM ${vm.providerId} exists but is stopped; InitializeMachine starts it`, {
          providerId: status.providerId,
          nodeName: status.nodeName,
        });
      }
      return status;
    } catch (err) {
      throw asMachineError(err, signal, 'get machine status');
    }
  }

  /**
   * Makes sure exactly one VM exists for the Machine and that it runs. Adopts
   * the VM of spec.providerID, or one with this Machine's markers, instead of
   * creating another; concurrent calls for one Machine share one execution.
   * A create request whose outcome is unknown (no answer, 5xx, cut body,
   * cancelled, accepted without an id) is recorded as an intent (memory,
   * lastKnownState, journal) before it is sent; until its VM is found or the
   * provider's discovery window has passed, no second create is sent.
   * - OK: providerID, nodeName (= Machine name), addresses.
   * - DeadlineExceeded: the VM exists but did not run in time, or the create request timed out, or a step
   *   before the VM (CloudSigma's boot drive clone) did not finish in time: then no VM request was sent,
   *   no create intent is held, and lastKnownState names the step's resource, which the next call
   *   (MCM retries in 5 s) continues with instead of repeating the step's request.
   * - Unavailable: the cloud failed transiently, or a create is outstanding and its VM not visible yet; retry in 5 s.
   * - Internal / ResourceExhausted: the VM failed and was removed; retry in 3 / 10 min.
   * - InvalidArgument: bad class, Secret or Machine; nothing is created.
   * Errors carry lastKnownState naming the VM or the outstanding create.
   */
  async createMachine(call: MachineCall, signal: AbortSignal): Promise<MachineStatus> {
    const { machine, bound } = await this.bindMachine(call, 'create');
    return this.creates.run(this.keyOf(bound, machine), signal, (shared) => this.ensureRunningVm(bound, machine, shared));
  }

  /**
   * MCM calls this right after a successful create, and after GetMachineStatus
   * answered Uninitialized. It confirms the VM is there and starts it if it is
   * stopped on a cloud whose VMs do not boot by themselves (session.start).
   * - OK: the VM exists (and was asked to start). NotFound: it does not (MCM marks CrashLoopBackOff).
   */
  async initializeMachine(call: MachineCall, signal: AbortSignal): Promise<MachineStatus> {
    const { machine, bound } = await this.bindMachine(call, 'manage');
    try {
      const found = await this.findMachineVm(bound, machine, signal);
      if (!found.vm) throw new MachineError(MachineCode.NotFound, `no VM found for machine ${machine.name}`);
      const vm = failIfFailed(found.vm);
      if (vm.state === 'stopped' && bound.session.start) await this.startVm(bound.session, vm, signal);
      return this.statusOf(machine, vm);
    } catch (err) {
      throw asMachineError(err, signal, 'initialize machine');
    }
  }

  /**
   * Deletes exactly the VM of spec.providerID; with an empty providerID, every
   * VM carrying this Machine's markers and the VM a recent create named. OK
   * only once the VMs read as gone; then what a VM owned (session.releaseMachine)
   * is removed, and a failed removal fails the call, so MCM's next call retries it.
   * Works with the orphan stub (name, namespace, providerID only).
   * - OK: the VM is gone (already gone counts) and what it owned too.
   * - DeadlineExceeded: deletion was requested but the VM still exists, or a step it needs first (CloudSigma:
   *   the server stopping) did not finish, or what the VM owned (a boot drive) is still being removed;
   *   MCM retries in 5 s and the next call continues where this one stopped.
   * - Unavailable: removing what the VM owned failed; the next call retries it (it is found by its name or marker).
   * - PermissionDenied: the VM exists but these credentials may not touch it; it is never treated as gone.
   * - Unavailable: with an empty providerID, a create whose outcome is unknown is inside its
   *   discovery window: deleting now would leave its VM behind when it shows up.
   * - InvalidArgument: the providerID is not this cloud's; MCM retries in 10 min.
   * - cloud codes per the README table.
   */
  async deleteMachine(call: MachineCall, signal: AbortSignal): Promise<{ lastKnownState: string }> {
    const { machine, bound } = await this.bindMachine(call, 'manage');
    const { session } = bound;
    const key = this.keyOf(bound, machine);
    try {
      let targets: string[];
      if (machine.providerId) {
        targets = [machine.providerId];
      } else {
        const intent = this.intents.get(key, machine.lastKnownState);
        const vms = await this.machineVms(session, machine, intent, signal);
        if (vms.length === 0 && intent && !intent.providerId) {
          throw new MachineError(
            MachineCode.Unavailable,
            `a create request for machine ${machine.name} sent at ${iso(intent.at)} has an unknown outcome and its VM is not visible yet; deleting waits until it shows up or until ${iso(intent.until)}`,
            { lastKnownState: withIntent(machine.lastKnownState, intent) },
          );
        }
        targets = vms.map((vm) => vm.providerId);
      }
      const deadline = Date.now() + this.timings.deleteTimeoutMs;
      for (const providerId of targets) {
        await this.deleteAndWait(session, providerId, deadline, signal);
      }
      await this.release(session, machine, deadline, signal);
      if (!machine.providerId) this.intents.clear(key);
      this.stepHolds.clearMachine(key);
      return { lastKnownState: '' };
    } catch (err) {
      throw asMachineError(err, signal, 'delete machine');
    }
  }

  /**
   * providerID → Machine name for the VMs of this cluster and this class.
   * A class of another provider, or one whose providerSpec cannot be read,
   * gets an empty map: an error here would stop MCM's orphan sweep for every
   * class, and an empty map never deletes anything.
   */
  async listMachines(call: Omit<MachineCall, 'machine'>, signal: AbortSignal): Promise<Record<string, string>> {
    const problems: string[] = [];
    const machineClass = readMachineClass(call.machineClass, problems);
    const provider = this.providers.find(machineClass.provider);
    if (problems.length > 0 || !provider) {
      logger.info('list machines: class is not served by this driver, answering an empty list', {
        provider: machineClass.provider,
        machineClass: machineClass.name,
        problems,
      });
      return {};
    }
    let session: CloudSession;
    try {
      session = await provider.open(machineClass, call.secretData, 'manage');
    } catch (err) {
      logger.warn('list machines: class cannot be read, answering an empty list', { error: asMachineError(err).message });
      return {};
    }
    try {
      // Page by page (provider.ts list): only the answer grows with the listing.
      const result: Record<string, string> = {};
      for await (const page of session.list(signal)) {
        for (const vm of page) {
          // The later entry of a VM listed twice wins: one whose deletion began meanwhile is left out.
          if (vm.machineName && vm.state !== 'deleting') result[vm.providerId] = vm.machineName;
          else delete result[vm.providerId];
        }
      }
      return result;
    } catch (err) {
      throw asMachineError(err, signal, 'list machines');
    }
  }

  /** Volume IDs of the PVs a cloud serves; PVs of other drivers are left out. */
  getVolumeIds(pvSpecs: readonly Record<string, unknown>[]): string[] {
    const ids: string[] = [];
    for (const spec of pvSpecs) {
      for (const provider of this.providers.all()) {
        const id = provider.volumeId(spec);
        if (id) {
          ids.push(id);
          break;
        }
      }
    }
    return ids;
  }

  /** Which provider a call is for, for logs and metrics, without failing. */
  describeCall(call: Partial<MachineCall>): { provider: string; machine: string; machineClass: string } {
    const problems: string[] = [];
    const machine = call.machine ? readMachine(call.machine, problems) : undefined;
    const cls = readMachineClass(call.machineClass, problems);
    return { provider: this.providers.find(cls.provider)?.name ?? cls.provider, machine: machine?.name ?? '', machineClass: cls.name };
  }

  /**
   * Only CreateMachine makes a VM, so only it validates the whole class
   * ('create'); every other call opens for 'manage' and is never blocked by a
   * create-only field (deletion is never blocked by what it does not need).
   */
  private async bindMachine(call: MachineCall, purpose: SessionPurpose): Promise<{ machine: MachineRef; bound: Bound }> {
    const problems: string[] = [];
    const machine = readMachine(call.machine, problems);
    const machineClass = readMachineClass(call.machineClass, problems);
    const provider = this.providers.find(machineClass.provider);
    if (!provider && !problems.some((p) => p.startsWith('machineClass:'))) {
      problems.push(
        `machineClass.provider: "${machineClass.provider}" is not served by this driver, expected one of ${this.providers.names().join(', ')}`,
      );
    }
    throwIfProblems(problems);
    const session = await provider!.open(machineClass, call.secretData, purpose);
    return { machine, bound: { provider: provider!, session, machineClass } };
  }

  private keyOf(bound: Bound, machine: MachineRef): string {
    return `${bound.provider.name}/${bound.machineClass.namespace}/${machine.name}`;
  }

  private discoveryWindowMs(bound: Bound): number {
    return this.timings.discoveryWindowMs ?? bound.provider.discoveryWindowMs ?? DEFAULT_DISCOVERY_WINDOW_MS;
  }

  /**
   * The Machine's VM: the one of spec.providerID, else the one its markers
   * (and a recent create) name, with twins removed. `deleting` says an earlier
   * VM of the Machine is on its way out; `intent` is the create outstanding.
   */
  private async findMachineVm(bound: Bound, machine: MachineRef, signal: AbortSignal): Promise<Found> {
    const { session } = bound;
    if (machine.providerId) {
      try {
        const vm = await session.get(machine.providerId, signal);
        return { vm: vm && vm.state !== 'deleting' ? vm : undefined, deleting: vm?.state === 'deleting' };
      } catch (err) {
        const denied = asMachineError(err, signal);
        if (denied.code !== MachineCode.PermissionDenied) throw err;
        return { vm: await this.healStaleProviderId(bound, machine, denied, signal), deleting: false };
      }
    }
    return this.findByMarkers(bound, machine, signal);
  }

  /**
   * The stored providerID answers 403: the VM exists but these credentials may
   * not see it (e.g. another user of an impersonating account). Never report
   * NotFound for it, which would make MCM create a second VM. If an accessible
   * VM carries this Machine's markers, that is the Machine's VM (the stored ID
   * is stale); otherwise a human has to decide.
   */
  private async healStaleProviderId(bound: Bound, machine: MachineRef, denied: MachineError, signal: AbortSignal): Promise<VmRecord> {
    const { vm } = await this.findByMarkers(bound, { ...machine, providerId: '' }, signal);
    if (vm) {
      logger.warn('stored providerID is not accessible, reporting the accessible VM with this Machine’s markers', {
        storedProviderId: machine.providerId,
        providerId: vm.providerId,
      });
      return vm;
    }
    // The cloud's own words (which user the Secret acts as, whose the VM is) first: they say what to fix.
    throw new MachineError(
      MachineCode.PermissionDenied,
      `VM ${machine.providerId} exists but these credentials may not access it (${denied.message}); no accessible VM carries the markers of machine ${machine.name} either: the driver will not create a second VM`,
    );
  }

  /** VMs with the Machine's markers, plus the VM a create intent names when the listing does not show it yet. */
  private async machineVms(session: CloudSession, machine: MachineRef, intent: CreateIntent | undefined, signal: AbortSignal): Promise<VmRecord[]> {
    const vms = await session.findByMachine(machine.name, signal);
    if (intent?.providerId && !vms.some((v) => v.providerId === intent.providerId)) {
      const vm = await session.get(intent.providerId, signal);
      if (vm) vms.push(vm);
    }
    return vms;
  }

  private async findByMarkers(bound: Bound, machine: MachineRef, signal: AbortSignal): Promise<Found> {
    const key = this.keyOf(bound, machine);
    const intent = this.intents.get(key, machine.lastKnownState);
    const all = await this.machineVms(bound.session, machine, intent, signal);
    const live = all.filter((vm) => vm.state !== 'deleting');
    const vm = await this.oneVm(bound.session, live, machine, signal);
    if (vm && intent && intent.providerId !== vm.providerId) {
      // The outcome is known now: the VM is read by id from here on, whatever the listing shows.
      this.intents.set(key, { ...intent, providerId: vm.providerId });
    }
    // Only an outcome still unknown holds creates back; an intent whose VM was named is read by id above (gone: nothing to wait for).
    const pending = intent && !intent.providerId && !vm ? intent : undefined;
    return { vm, deleting: all.some((v) => v.state === 'deleting'), intent: pending };
  }

  /**
   * One Machine, one VM. With two or more carrying its markers (a create that
   * showed up after the discovery window, a VM made by another driver
   * instance), the Machine's is its providerID's, else the oldest; the others
   * are ours by the same markers and are removed (asked to delete; a failed
   * request is retried by the next call, which finds them again).
   */
  private async oneVm(session: CloudSession, vms: VmRecord[], machine: MachineRef, signal: AbortSignal): Promise<VmRecord | undefined> {
    if (vms.length <= 1) return vms[0];
    const keep = vms.find((v) => v.providerId === machine.providerId) ?? [...vms].sort(olderFirst)[0]!;
    for (const twin of vms) {
      if (twin === keep) continue;
      try {
        await this.requestDeletion(session, twin.providerId, signal);
        logger.warn('two VMs carry the markers of one Machine: removing the younger one', { machine: machine.name, kept: keep.providerId, removed: twin.providerId });
      } catch (err) {
        if (signal.aborted) throw err;
        logger.warn('two VMs carry the markers of one Machine: removing the younger one failed, the next call retries', {
          machine: machine.name,
          kept: keep.providerId,
          twin: twin.providerId,
          error: asMachineError(err).message,
        });
      }
    }
    return keep;
  }

  /** The answer when no VM is visible: NotFound, unless a create is outstanding or an earlier VM is being deleted. */
  private notVisible(bound: Bound, machine: MachineRef, found: Found): MachineError {
    if (found.intent) return this.outstanding(machine, found.intent);
    if (found.deleting) return new MachineError(MachineCode.Unavailable, `an earlier VM of machine ${machine.name} is still being deleted`);
    return new MachineError(MachineCode.NotFound, `no VM found for machine ${machine.name}`);
  }

  private outstanding(machine: MachineRef, intent: CreateIntent, code = MachineCode.Unavailable, cause?: string): MachineError {
    const why = cause ? ` (${cause})` : '';
    return new MachineError(
      code,
      `the create request for machine ${machine.name} sent at ${iso(intent.at)} has an unknown outcome${why} and its VM is not visible yet; ` +
        `no second create is sent before ${iso(intent.until)} unless the VM shows up`,
      { lastKnownState: withIntent(machine.lastKnownState, intent) },
    );
  }

  private async ensureRunningVm(bound: Bound, machine: MachineRef, signal: AbortSignal): Promise<MachineStatus> {
    const { session, provider } = bound;
    const started = performance.now();
    // One deadline for the whole call: the steps before the VM and the wait for it to run share it.
    const deadline = Date.now() + this.timings.createTimeoutMs;
    // The VM as last seen, so a failure can tell MCM (lastKnownState) which VM it was about.
    const seen: { vm?: VmRecord; intent?: CreateIntent } = {};
    try {
      const found = await this.findMachineVm(bound, machine, signal);
      seen.intent = found.intent;
      seen.vm = found.vm;
      if (!seen.vm && machine.providerId) {
        // MCM sent a providerID whose VM is gone: the Machine's VM, if any, is found by its markers.
        const byMarkers = await this.findByMarkers(bound, { ...machine, providerId: '' }, signal);
        Object.assign(found, byMarkers);
        seen.vm = byMarkers.vm;
        seen.intent = byMarkers.intent;
      }
      if (seen.vm) {
        logger.info('adopting existing VM', { providerId: seen.vm.providerId, state: seen.vm.state });
      } else if (found.intent) {
        throw this.outstanding(machine, found.intent);
      } else if (found.deleting) {
        throw new MachineError(MachineCode.Unavailable, `an earlier VM of machine ${machine.name} is still being deleted`);
      } else {
        seen.vm = await this.createOnce(bound, machine, seen, deadline, signal);
        logger.info('VM created', { providerId: seen.vm.providerId });
      }
      const running = await this.waitUntilRunning(session, seen, deadline, signal);
      const vm = session.completeRunning ? await session.completeRunning(running, signal) : running;
      vmCreateDuration.observe({ provider: provider.name }, (performance.now() - started) / 1000);
      return this.statusOf(machine, vm);
    } catch (err) {
      const failure = asMachineError(err, signal, 'create machine');
      const own = failure.details.lastKnownState;
      if (own?.includes(INTENT_KEY)) throw failure;
      const { vm } = seen;
      const base = own ?? (vm ? JSON.stringify({ providerId: vm.providerId, state: vm.state }) : '');
      const intent = seen.intent && vm ? { ...seen.intent, providerId: vm.providerId } : seen.intent;
      const state = intent ? withIntent(base, intent) : base;
      throw state ? new MachineError(failure.code, failure.message, { ...failure.details, lastKnownState: state }, { cause: failure.cause }) : failure;
    }
  }

  /**
   * Sends the create request once, with its intent recorded first (so a kill
   * between request and answer leaves the intent behind). Refused: the intent
   * is dropped and the refusal reported. Unknown: the VM may exist; one lookup
   * by markers, and if it is not visible yet the call answers with the intent
   * (Unavailable, or DeadlineExceeded for a timed-out request) and every call
   * until the discovery window ends waits for the VM instead of creating again.
   */
  private async createOnce(bound: Bound, machine: MachineRef, seen: { intent?: CreateIntent }, deadline: number, signal: AbortSignal): Promise<VmRecord> {
    const { session } = bound;
    const key = this.keyOf(bound, machine);
    const windowMs = this.discoveryWindowMs(bound);
    // No window (a provider that still discovers its own VMs): nothing is recorded and its own answer stands.
    const arm = (): CreateIntent | undefined => {
      const at = Date.now();
      return windowMs > 0 ? { at, until: at + windowMs } : undefined;
    };
    let intent = arm();
    const remember = (next: CreateIntent | undefined) => {
      seen.intent = next;
      if (next) this.intents.set(key, next);
      else this.intents.clear(key);
    };
    // The window counts from the VM's own request (a multi-step create says when it goes) and, for an unknown
    // outcome, from the moment the outcome is known: a listing lags the VM's creation, which is no later than that.
    const restart = () => (intent ? { ...intent, until: Date.now() + windowMs } : undefined);
    // Whether this create() call reached the VM's own request: what it threw before that made no VM.
    let vmRequested = false;
    const hooks: CreateHooks = {
      beforeVmRequest: () => {
        vmRequested = true;
        remember(restart());
      },
      // A step makes no VM: a second step request after the hold costs one more drive or script, which the next create removes,
      // so its hold is the provider's window capped at the default (VPSie's 20 min is about its asynchronous VM create).
      stepRequest: (step, request, findMade) => this.stepRequest(key, machine, step, request, findMade, Math.min(windowMs, DEFAULT_DISCOVERY_WINDOW_MS), signal),
    };
    const attempt = () => {
      vmRequested = false;
      intent = arm();
      remember(intent);
    };
    const outcome = await runCreate(async () => {
      try {
        return await this.createThroughSteps(session, machine, hooks, attempt, () => remember(undefined), deadline, signal);
      } catch (err) {
        if (vmRequested || isNoVmRequested(err)) throw err;
        throw new NoVmRequestedError('before the VM request', asMachineError(err, signal, 'create machine'));
      }
    }, signal);
    switch (outcome.kind) {
      case 'created':
        if (intent) remember({ ...intent, providerId: outcome.vm.providerId });
        return outcome.vm;
      case 'refused':
        remember(undefined);
        throw await this.afterRefusal(bound, machine, outcome.error, signal);
      case 'unknown': {
        const failure = outcome.error === undefined ? undefined : asMachineError(outcome.error, signal);
        logger.warn('create outcome unknown, looking the VM up', { machine: machine.name, code: failure?.codeName ?? 'accepted without an id' });
        if (!signal.aborted) {
          const found = await session.findByMachine(machine.name, signal).catch(() => []);
          const live = found.filter((v) => v.state !== 'deleting');
          const vm = await this.oneVm(session, live, machine, signal).catch(() => undefined);
          if (vm) {
            if (intent) remember({ ...intent, providerId: vm.providerId });
            return vm;
          }
        }
        if (!intent) throw failure ?? new MachineError(MachineCode.Unavailable, `the create of machine ${machine.name} was accepted and its VM is not visible yet`);
        const pending = restart()!;
        remember(pending);
        // The cloud's code stays (Unavailable for a 5xx or a lost connection, DeadlineExceeded for a timeout).
        const code = failure?.code ?? MachineCode.Unavailable;
        const outstanding = this.outstanding(machine, pending, code, failure?.message);
        // A provider's own record of what it made (e.g. CloudSigma's kept boot drive) stays in lastKnownState.
        const own = failure?.details.lastKnownState;
        throw own ? new MachineError(code, outstanding.message, { lastKnownState: withIntent(own, pending) }) : outstanding;
      }
    }
  }

  /**
   * A create no VM came from. What its steps made (a boot drive, a boot
   * script) carries the Machine's name: for a refusal a retry may overcome
   * (no capacity or funds, a rate limit, a timed-out wait, a transient
   * failure) it is kept, and the next create reuses it (lastKnownState names
   * it). For one that needs a human (a wrong class, Secret or permission) it
   * is removed in one pass of releaseMachine, so nothing of the Machine, its
   * userData included, sits in the account until the Machine is deleted. A
   * failed removal is logged; DeleteMachine removes what is left.
   */
  private async afterRefusal(bound: Bound, machine: MachineRef, error: unknown, signal: AbortSignal): Promise<unknown> {
    const failure = asMachineError(error, signal, 'create machine');
    if (signal.aborted || !NEEDS_A_HUMAN.has(failure.code) || !bound.session.releaseMachine) return error;
    try {
      const left = await bound.session.releaseMachine(machine.name, signal);
      logger.info('create refused: removed what its steps made', { machine: machine.name, code: failure.codeName, stillGoing: left });
    } catch (err) {
      if (signal.aborted) throw err;
      logger.warn('create refused: removing what its steps made failed, DeleteMachine removes it', { machine: machine.name, error: asMachineError(err).message });
      return error;
    }
    const { lastKnownState: _kept, ...details } = failure.details;
    return new MachineError(failure.code, failure.message, details, { cause: failure.cause });
  }

  /**
   * One request of a step before the VM's (provider.ts CreateHooks.stepRequest),
   * under the rules of the VM's own request: a refusal is thrown; a request
   * that may have taken effect, or was accepted without naming what it made,
   * is followed by the adapter's lookup (findMade); nothing found holds the
   * step back (StepHolds) for the discovery window, during which the next
   * calls look instead of sending it again. No VM is requested in a step, so
   * its failure holds no create intent (createOnce wraps it as NoVmRequestedError).
   */
  private async stepRequest<T>(
    key: string,
    machine: MachineRef,
    step: string,
    request: () => Promise<T | undefined>,
    findMade: () => Promise<T | undefined>,
    windowMs: number,
    signal: AbortSignal,
  ): Promise<T> {
    const held = this.stepHolds.get(key, step);
    if (held) {
      const found = await findMade();
      if (found !== undefined) {
        this.stepHolds.clear(key, step);
        logger.info('create: what an earlier step request made is visible now, continuing with it', { machine: machine.name, step });
        return found;
      }
      throw new MachineError(
        MachineCode.Unavailable,
        `the ${step} request for machine ${machine.name} sent at ${iso(held.at)} may have taken effect and what it makes is not visible yet; ` +
          `no VM was requested, the next call looks again and sends no second ${step} request before ${iso(held.until)}`,
      );
    }
    const at = Date.now();
    let failure: unknown;
    try {
      const made = await request();
      if (made !== undefined) return made;
    } catch (err) {
      if (!mayHaveTakenEffect(err, signal)) throw err;
      failure = err;
    }
    const found = signal.aborted ? undefined : await findMade().catch(() => undefined);
    if (found !== undefined) {
      if (failure !== undefined) logger.warn('create: a step request’s outcome was unknown, continuing with what it made', { machine: machine.name, step });
      return found;
    }
    if (windowMs > 0) this.stepHolds.set(key, step, { at, until: Date.now() + windowMs });
    if (failure !== undefined) throw failure;
    throw new MachineError(
      MachineCode.Unavailable,
      `the ${step} request for machine ${machine.name} was accepted and what it makes is not visible yet; no VM was requested, the next call looks again`,
    );
  }

  /**
   * create(), and again while it answers that a step before the VM's own
   * request is still running (StepInProgress): the wait is the driver's (its
   * poll interval, the call's deadline), never the provider's. Each re-call
   * carries the step's lastKnownState, so the adapter continues with what the
   * step made and sends none of its requests twice. No VM request was sent
   * while a step runs, so no create intent is held then (`drop`; `attempt`
   * records it again before each call). At the deadline, or when the call is
   * cut during the wait: NoVmRequestedError (nothing can exist, nothing is
   * held back) with DeadlineExceeded and the step's lastKnownState, which
   * MCM's next CreateMachine continues with.
   */
  private async createThroughSteps(
    session: CloudSession,
    machine: MachineRef,
    hooks: CreateHooks,
    attempt: () => void,
    drop: () => void,
    deadline: number,
    signal: AbortSignal,
  ): Promise<VmRecord | undefined> {
    let current = machine;
    let waiting: StepInProgress['stepInProgress'] | undefined;
    try {
      const { value, done } = await pollUntil(
        async () => {
          waiting = undefined;
          attempt();
          const answer = await session.create(current, signal, hooks);
          if (isStepInProgress(answer)) {
            drop();
            waiting = answer.stepInProgress;
            current = { ...machine, lastKnownState: waiting.lastKnownState };
            logger.info('create: a step before the VM is in progress, waiting', { machine: machine.name, step: waiting.step, waitingFor: waiting.waitingFor });
          }
          return answer;
        },
        (answer) => !isStepInProgress(answer),
        { intervalMs: this.timings.pollIntervalMs, deadline, signal },
      );
      if (done) return value as VmRecord | undefined;
      const { step, waitingFor, lastKnownState } = (value as StepInProgress).stepInProgress;
      throw new NoVmRequestedError(
        step,
        new MachineError(
          MachineCode.DeadlineExceeded,
          `${step} of machine ${machine.name} did not finish in ${Math.round(this.timings.createTimeoutMs / 1000)} s (${waitingFor}); no VM was requested yet, the next CreateMachine continues with it`,
          { lastKnownState },
        ),
      );
    } catch (err) {
      // Cut while the driver waited for a step: no VM request went out in this call, and what the step made is named.
      if (waiting && !(err instanceof NoVmRequestedError)) {
        const cut = asMachineError(err, signal, 'create machine');
        throw new NoVmRequestedError(waiting.step, new MachineError(cut.code, cut.message, { ...cut.details, lastKnownState: waiting.lastKnownState }, { cause: cut.cause }));
      }
      throw err;
    }
  }

  private async waitUntilRunning(session: CloudSession, seen: { vm?: VmRecord }, deadline: number, signal: AbortSignal): Promise<VmRecord> {
    let startRequested = false;
    let first = true;
    const { value, done } = await pollUntil(
      async () => {
        if (!first) {
          const next = await session.get(seen.vm!.providerId, signal);
          if (!next) throw new MachineError(MachineCode.Unavailable, `VM ${seen.vm!.providerId} disappeared while starting`);
          seen.vm = next;
        }
        first = false;
        const current = seen.vm!;
        if (current.state === 'stopped' && session.start && !startRequested) {
          // A cloud whose VMs do not boot by themselves: the VM just created, or an adopted one left stopped.
          startRequested = true;
          seen.vm = await this.startVm(session, current, signal);
          return seen.vm;
        }
        if (current.state === 'failed') {
          await this.removeFailedVm(session, current, signal);
          failIfFailed(current);
        }
        if (current.state === 'deleting') {
          throw new MachineError(MachineCode.Unavailable, `VM ${current.providerId} is being deleted`);
        }
        return current;
      },
      (vm) => vm.state === 'running',
      { intervalMs: this.timings.pollIntervalMs, deadline, signal },
    );
    if (done) return value;
    throw new MachineError(MachineCode.DeadlineExceeded, `VM ${value.providerId} is still ${value.state} after ${Math.round(this.timings.createTimeoutMs / 1000)} s`);
  }

  /**
   * session.start, with the driver's rule for a start that answers an error:
   * the VM is read again, and one that is starting or running now was started
   * (a retried start whose first answer was lost, or another caller's), so
   * the error is moved past; otherwise it stands (a stopped VM is kept: the
   * next call, or InitializeMachine after GetMachineStatus's Uninitialized,
   * starts it). Answers the VM as last read.
   */
  private async startVm(session: CloudSession, vm: VmRecord, signal: AbortSignal): Promise<VmRecord> {
    try {
      await session.start!(vm.providerId, signal);
      logger.info('started a stopped VM', { providerId: vm.providerId });
      return vm;
    } catch (err) {
      if (signal.aborted) throw err;
      const now = await session.get(vm.providerId, signal).catch(() => undefined);
      if (now && (now.state === 'creating' || now.state === 'running')) {
        logger.info('start answered an error, but the VM is starting', { providerId: vm.providerId, state: now.state, error: asMachineError(err).message });
        return now;
      }
      throw err;
    }
  }

  /** One delete() step; a VM already gone (404) counts as requested. */
  private async deleteStep(session: CloudSession, providerId: string, signal: AbortSignal): Promise<DeleteProgress> {
    try {
      return await session.delete(providerId, signal);
    } catch (err) {
      if (isNotFound(err)) return 'requested';
      throw err;
    }
  }

  /**
   * delete() until the cloud accepted the deletion (a stop before it is the
   * driver's wait), without waiting for the VM to be gone: for twins and
   * failed VMs, which the next call finds again if they stay.
   */
  private async requestDeletion(session: CloudSession, providerId: string, signal: AbortSignal): Promise<void> {
    const { done } = await pollUntil(() => this.deleteStep(session, providerId, signal), (p) => p === 'requested', {
      intervalMs: this.timings.pollIntervalMs,
      deadline: Date.now() + this.timings.deleteTimeoutMs,
      signal,
    });
    if (!done) {
      throw new MachineError(
        MachineCode.DeadlineExceeded,
        `the deletion of VM ${providerId} could not be requested in ${Math.round(this.timings.deleteTimeoutMs / 1000)} s: a step it needs first (a stop) did not finish`,
      );
    }
  }

  /** Asks the cloud to delete a failed VM; a failure is logged and the next call (which finds the VM again) retries. */
  private async removeFailedVm(session: CloudSession, vm: VmRecord, signal: AbortSignal): Promise<void> {
    try {
      await this.requestDeletion(session, vm.providerId, signal);
      logger.info('removed failed VM', { providerId: vm.providerId });
    } catch (err) {
      if (signal.aborted) throw err;
      logger.warn('could not remove failed VM, the next call retries', { providerId: vm.providerId, error: asMachineError(err).message });
    }
  }

  /**
   * Reads the VM and, while it exists, is not deleting yet and its deletion is
   * not requested, takes the next delete() step (CloudSigma: stop, then the
   * DELETE once stopped); then polls until get() reads it gone. The waits are
   * the driver's: at the call's deadline it answers DeadlineExceeded, and MCM's
   * next DeleteMachine continues (a repeated step is harmless).
   */
  private async deleteAndWait(session: CloudSession, providerId: string, deadline: number, signal: AbortSignal): Promise<void> {
    let progress: DeleteProgress | undefined;
    const { done } = await pollUntil(
      async () => {
        const vm = await session.get(providerId, signal);
        if (vm && vm.state !== 'deleting' && progress !== 'requested') progress = await this.deleteStep(session, providerId, signal);
        return vm;
      },
      (vm) => vm === undefined,
      { intervalMs: this.timings.pollIntervalMs, deadline, signal },
    );
    if (!done) {
      const why = progress === 'call again' ? 'is not deleted yet: a step its deletion needs first (a stop) has not finished' : 'is still being deleted';
      throw new MachineError(MachineCode.DeadlineExceeded, `VM ${providerId} ${why} after ${Math.round(this.timings.deleteTimeoutMs / 1000)} s; the next DeleteMachine continues`, {
        lastKnownState: JSON.stringify({ providerId, state: 'deleting' }),
      });
    }
    logger.info('VM deleted', { providerId });
  }

  /**
   * What the Machine's VMs owned (session.releaseMachine), once they are gone:
   * one pass per poll until nothing is left, under the call's deadline. A
   * failed removal throws (the call fails, MCM's next call retries it).
   */
  private async release(session: CloudSession, machine: MachineRef, deadline: number, signal: AbortSignal): Promise<void> {
    if (!session.releaseMachine) return;
    const { value, done } = await pollUntil(() => session.releaseMachine!(machine.name, signal), (left) => left === undefined, {
      intervalMs: this.timings.pollIntervalMs,
      deadline,
      signal,
    });
    if (!done) {
      throw new MachineError(
        MachineCode.DeadlineExceeded,
        `the VMs of machine ${machine.name} are gone, but what they owned is still being removed after ${Math.round(this.timings.deleteTimeoutMs / 1000)} s: ${value}; the next DeleteMachine checks again`,
      );
    }
  }

  private statusOf(machine: MachineRef, vm: VmRecord): MachineStatus {
    return { providerId: vm.providerId, nodeName: machine.name, addresses: vm.addresses };
  }
}

/** Refusals no retry overcomes: what the create's steps made is removed (MachineDriver.afterRefusal). */
const NEEDS_A_HUMAN = new Set<MachineCode>([
  MachineCode.InvalidArgument,
  MachineCode.FailedPrecondition,
  MachineCode.PermissionDenied,
  MachineCode.Unauthenticated,
  MachineCode.NotFound,
  MachineCode.OutOfRange,
  MachineCode.Unimplemented,
]);

/** What a lookup of the Machine's VM found. */
interface Found {
  vm: VmRecord | undefined;
  /** An earlier VM of the Machine is being deleted. */
  deleting: boolean;
  /** A create whose VM is not known yet, inside its discovery window. */
  intent?: CreateIntent;
}

/** Oldest first; a VM whose cloud gives no creation time sorts after the ones that have one; ties by providerID, so every caller picks the same. */
function olderFirst(a: VmRecord, b: VmRecord): number {
  const ta = a.createdAt ? Date.parse(a.createdAt) : Number.POSITIVE_INFINITY;
  const tb = b.createdAt ? Date.parse(b.createdAt) : Number.POSITIVE_INFINITY;
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.providerId < b.providerId ? -1 : a.providerId > b.providerId ? 1 : 0;
}

function failIfFailed(vm: VmRecord): VmRecord {
  if (vm.state !== 'failed') return vm;
  throw new MachineError(vm.failureCode ?? MachineCode.Internal, `VM ${vm.providerId} failed: ${vm.failureMessage ?? 'no reason given'}`);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
