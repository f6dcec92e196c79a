import { setTimeout as sleep } from 'node:timers/promises';
import { isNotFound } from '../http/cloud-api-error.js';
import { logger } from '../observability/logger.js';
import { vmCreateDuration } from '../observability/metrics.js';
import { MachineCode } from './codes.js';
import { asMachineError, withLastKnownState } from './errors.js';
import { MachineError } from './machine-error.js';
import { readMachine, readMachineClass, throwIfProblems } from './machine-request.js';
import type { CloudProvider, CloudSession, MachineClassRef, MachineRef, NodeAddress, SecretData, SessionPurpose, VmRecord } from './provider.js';
import type { ProviderRegistry } from './provider-registry.js';
import { SingleFlight } from './single-flight.js';

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
  /** How long CreateMachine waits for the VM to run before DeadlineExceeded (MCM retries in 5 s). */
  createTimeoutMs: number;
  /** How long DeleteMachine waits for the VM to be gone. */
  deleteTimeoutMs: number;
  pollIntervalMs: number;
}

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

  constructor(
    private readonly providers: ProviderRegistry,
    timings: Partial<DriverTimings> = {},
  ) {
    this.timings = { ...defaultTimings, ...timings };
  }

  /**
   * Finds the Machine's VM: by spec.providerID, or by the Machine's markers when
   * that is empty (MCM relies on this to not create a second VM).
   * - OK: MCM adopts providerID/nodeName.
   * - NotFound: no such VM; with an empty providerID MCM calls CreateMachine.
   * - OutOfRange: more than one VM carries this Machine's markers; MCM runs its orphan sweep.
   * - Internal / ResourceExhausted: the VM failed; MCM marks CrashLoopBackOff and retries in 3 / 10 min.
   * - InvalidArgument: bad class, Secret or Machine; retry in 3 min.
   * - Unavailable / DeadlineExceeded / Unauthenticated / PermissionDenied: from the cloud call (table in README).
   */
  async getMachineStatus(call: MachineCall, signal: AbortSignal): Promise<MachineStatus> {
    const { machine, bound } = await this.bindMachine(call, 'manage');
    try {
      const vm = failIfFailed(await this.requireMachineVm(bound.session, machine, signal));
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
   * an existing VM with this Machine's markers instead of creating another;
   * concurrent calls for one Machine share one execution.
   * - OK: providerID, nodeName (= Machine name), addresses.
   * - DeadlineExceeded: the VM exists but did not run in time; MCM retries in 5 s and adopts it.
   * - Unavailable: the cloud failed transiently (or the create answer was lost and the VM is not visible yet); retry in 5 s.
   * - Internal / ResourceExhausted: the VM failed and was removed; retry in 3 / 10 min.
   * - OutOfRange: several VMs carry this Machine's markers; nothing is created.
   * - InvalidArgument: bad class, Secret or Machine; nothing is created.
   * Errors carry lastKnownState naming the VM, if one was made.
   */
  async createMachine(call: MachineCall, signal: AbortSignal): Promise<MachineStatus> {
    const { machine, bound } = await this.bindMachine(call, 'create');
    const key = `${bound.provider.name}/${bound.machineClass.namespace}/${machine.name}`;
    return this.creates.run(key, signal, (shared) => this.ensureRunningVm(bound, machine, shared));
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
      const vm = failIfFailed(await this.requireMachineVm(bound.session, machine, signal));
      if (vm.state === 'stopped' && bound.session.start) {
        await bound.session.start(vm.providerId, signal);
        logger.info('started a stopped VM', { providerId: vm.providerId });
      }
      return this.statusOf(machine, vm);
    } catch (err) {
      throw asMachineError(err, signal, 'initialize machine');
    }
  }

  /**
   * Deletes exactly the VM of spec.providerID; with an empty providerID, the
   * VMs carrying this Machine's markers. Works with the orphan stub (name,
   * namespace, providerID only).
   * - OK: the VM is gone (already gone counts).
   * - DeadlineExceeded: deletion was requested but the VM still exists; MCM retries in 5 s.
   * - InvalidArgument: the providerID is not this cloud's; MCM retries in 10 min.
   * - cloud codes per the README table.
   */
  async deleteMachine(call: MachineCall, signal: AbortSignal): Promise<{ lastKnownState: string }> {
    const { machine, bound } = await this.bindMachine(call, 'manage');
    const { session } = bound;
    try {
      const targets = machine.providerId
        ? [machine.providerId]
        : (await session.findByMachine(machine.name, signal)).map((vm) => vm.providerId);
      for (const providerId of targets) {
        await this.deleteAndWait(session, providerId, signal);
      }
      await session.releaseMachine?.(machine.name, signal);
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
      const vms = await session.list(signal);
      const result: Record<string, string> = {};
      for (const vm of vms) {
        if (vm.machineName && vm.state !== 'deleting') result[vm.providerId] = vm.machineName;
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

  private async requireMachineVm(session: CloudSession, machine: MachineRef, signal: AbortSignal): Promise<VmRecord> {
    const vm = await this.findMachineVm(session, machine, signal);
    if (!vm) throw new MachineError(MachineCode.NotFound, `no VM found for machine ${machine.name}`);
    return vm;
  }

  private async findMachineVm(session: CloudSession, machine: MachineRef, signal: AbortSignal): Promise<VmRecord | undefined> {
    if (machine.providerId) {
      try {
        const vm = await session.get(machine.providerId, signal);
        return vm && vm.state !== 'deleting' ? vm : undefined;
      } catch (err) {
        if (asMachineError(err, signal).code !== MachineCode.PermissionDenied) throw err;
        return this.healStaleProviderId(session, machine, signal);
      }
    }
    return this.findByMarkers(session, machine, signal);
  }

  /**
   * The stored providerID answers 403: the VM exists but these credentials may
   * not see it (e.g. another user of an impersonating account). Never report
   * NotFound for it, which would make MCM create a second VM. If an accessible
   * VM carries this Machine's markers, that is the Machine's VM (the stored ID
   * is stale); otherwise a human has to decide.
   */
  private async healStaleProviderId(session: CloudSession, machine: MachineRef, signal: AbortSignal): Promise<VmRecord> {
    const vm = await this.findByMarkers(session, machine, signal);
    if (vm) {
      logger.warn('stored providerID is not accessible, reporting the accessible VM with this Machine’s markers', {
        storedProviderId: machine.providerId,
        providerId: vm.providerId,
      });
      return vm;
    }
    throw new MachineError(
      MachineCode.PermissionDenied,
      `VM ${machine.providerId} exists but these credentials may not access it, and no accessible VM carries the markers of machine ${machine.name}: check which user the Secret acts as; the driver will not create a second VM`,
    );
  }

  private async findByMarkers(session: CloudSession, machine: MachineRef, signal: AbortSignal): Promise<VmRecord | undefined> {
    const vms = (await session.findByMachine(machine.name, signal)).filter((vm) => vm.state !== 'deleting');
    return atMostOne(vms, machine);
  }

  private async ensureRunningVm(bound: Bound, machine: MachineRef, signal: AbortSignal): Promise<MachineStatus> {
    const { session, provider } = bound;
    const started = performance.now();
    // The VM as last seen, so a failure can tell MCM (lastKnownState) which VM it was about.
    const seen: { vm?: VmRecord } = {};
    try {
      const existing = await session.findByMachine(machine.name, signal);
      if (existing.some((v) => v.state === 'deleting')) {
        throw new MachineError(MachineCode.Unavailable, `an earlier VM of machine ${machine.name} is still being deleted`);
      }
      seen.vm = atMostOne(existing, machine);
      if (seen.vm) {
        logger.info('adopting existing VM', { providerId: seen.vm.providerId, state: seen.vm.state });
      } else {
        seen.vm = await this.createOnce(session, machine, signal);
        logger.info('VM created', { providerId: seen.vm.providerId });
      }
      const running = await this.waitUntilRunning(session, seen, signal);
      const vm = session.completeRunning ? await session.completeRunning(running, signal) : running;
      vmCreateDuration.observe({ provider: provider.name }, (performance.now() - started) / 1000);
      return this.statusOf(machine, vm);
    } catch (err) {
      const failure = asMachineError(err, signal, 'create machine');
      const { vm } = seen;
      throw vm ? withLastKnownState(failure, JSON.stringify({ providerId: vm.providerId, state: vm.state })) : failure;
    }
  }

  /**
   * Sends the create request once. When its outcome is unknown (timeout, lost
   * answer, 5xx) the VM may exist anyway: look it up instead of repeating the
   * request, and report Unavailable if it is not visible yet (MCM retries in
   * 5 s and the next call finds it by its markers).
   */
  private async createOnce(session: CloudSession, machine: MachineRef, signal: AbortSignal): Promise<VmRecord> {
    try {
      return await session.create(machine, signal);
    } catch (err) {
      const failure = asMachineError(err, signal);
      if (signal.aborted || !isAmbiguous(failure.code)) throw failure;
      logger.warn('create outcome unknown, looking the VM up', { code: failure.codeName });
      const found = await session.findByMachine(machine.name, signal).catch(() => []);
      if (found.length === 1) return found[0]!;
      throw failure;
    }
  }

  private async waitUntilRunning(session: CloudSession, seen: { vm?: VmRecord }, signal: AbortSignal): Promise<VmRecord> {
    const deadline = Date.now() + this.timings.createTimeoutMs;
    let current = seen.vm!;
    let startRequested = false;
    for (;;) {
      seen.vm = current;
      if (current.state === 'running') return current;
      if (current.state === 'stopped' && session.start && !startRequested) {
        // An adopted VM on a cloud whose VMs do not boot by themselves (e.g. left stopped by a failed create).
        await session.start(current.providerId, signal);
        startRequested = true;
        logger.info('started a stopped VM', { providerId: current.providerId });
      }
      if (current.state === 'failed') {
        await this.removeFailedVm(session, current, signal);
        failIfFailed(current);
      }
      if (current.state === 'deleting') {
        throw new MachineError(MachineCode.Unavailable, `VM ${current.providerId} is being deleted`);
      }
      if (Date.now() >= deadline) {
        throw new MachineError(
          MachineCode.DeadlineExceeded,
          `VM ${current.providerId} is still ${current.state} after ${Math.round(this.timings.createTimeoutMs / 1000)} s`,
        );
      }
      await sleep(this.timings.pollIntervalMs, undefined, { signal });
      const next = await session.get(current.providerId, signal);
      if (!next) throw new MachineError(MachineCode.Unavailable, `VM ${current.providerId} disappeared while starting`);
      current = next;
    }
  }

  private async removeFailedVm(session: CloudSession, vm: VmRecord, signal: AbortSignal): Promise<void> {
    try {
      await session.delete(vm.providerId, signal);
      logger.info('removed failed VM', { providerId: vm.providerId });
    } catch (err) {
      logger.warn('could not remove failed VM, the next call retries', { providerId: vm.providerId, error: asMachineError(err).message });
    }
  }

  private async deleteAndWait(session: CloudSession, providerId: string, signal: AbortSignal): Promise<void> {
    const deadline = Date.now() + this.timings.deleteTimeoutMs;
    let vm = await session.get(providerId, signal);
    if (vm && vm.state !== 'deleting') {
      try {
        await session.delete(providerId, signal);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    while (vm) {
      if (Date.now() >= deadline) {
        throw new MachineError(MachineCode.DeadlineExceeded, `VM ${providerId} is still being deleted`, {
          lastKnownState: JSON.stringify({ providerId, state: 'deleting' }),
        });
      }
      await sleep(this.timings.pollIntervalMs, undefined, { signal });
      vm = await session.get(providerId, signal);
    }
    logger.info('VM deleted', { providerId });
  }

  private statusOf(machine: MachineRef, vm: VmRecord): MachineStatus {
    return { providerId: vm.providerId, nodeName: machine.name, addresses: vm.addresses };
  }
}

/** One Machine, one VM: more is OutOfRange (MCM then runs its orphan sweep) and nothing is created. */
function atMostOne(vms: VmRecord[], machine: MachineRef): VmRecord | undefined {
  if (vms.length > 1) {
    throw new MachineError(MachineCode.OutOfRange, `${vms.length} VMs carry the markers of machine ${machine.name}: ${vms.map((v) => v.providerId).join(', ')}`);
  }
  return vms[0];
}

function failIfFailed(vm: VmRecord): VmRecord {
  if (vm.state !== 'failed') return vm;
  throw new MachineError(vm.failureCode ?? MachineCode.Internal, `VM ${vm.providerId} failed: ${vm.failureMessage ?? 'no reason given'}`);
}

/** Codes after which a create request may or may not have taken effect. */
function isAmbiguous(code: MachineCode): boolean {
  return code === MachineCode.Unavailable || code === MachineCode.DeadlineExceeded || code === MachineCode.Unknown;
}
