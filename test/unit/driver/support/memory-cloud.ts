// An in-memory cloud behind the CloudSession contract, for the driver's lifecycle rules (mocked at
// the edge: MachineDriver runs unchanged). It has the worst documented behaviours as knobs: a
// listing that shows a VM only `listLagMs` after its create (and keeps showing it that long after
// its delete), creates whose answer is lost after they took effect, deletes that finish later,
// and VMs that fail. The reliability matrix runs the same rules against the real fakes over gRPC.
import { CloudApiError } from '../../../../src/http/cloud-api-error.js';
import type { CloudProvider, CloudSession, MachineRef, VmRecord, VmState } from '../../../../src/driver/provider.js';
import { MachineDriver, type DriverOptions } from '../../../../src/driver/machine-driver.js';
import { ProviderRegistry } from '../../../../src/driver/provider-registry.js';

export interface MemoryVm {
  id: string;
  machine: string;
  cluster: string;
  createdAtMs: number;
  deletedAtMs?: number;
  state: VmState;
  runningAtMs: number;
}

export interface Knobs {
  listLagMs: number;
  /** The next N creates take effect, then their answer is lost (a timeout). */
  loseCreateAnswers: number;
  /** The next N creates are refused with this HTTP status and take no effect. */
  refuseCreates: { times: number; status: number };
  /** A delete finishes this long after it was accepted. */
  deleteTakesMs: number;
  /** The next N delete requests fail with a 503. */
  failDeletes: number;
  /** The next N releaseMachine calls fail. */
  failReleases: number;
  runAfterMs: number;
  /** New VMs end in state failed. */
  failNewVms: boolean;
  /**
   * A step before the VM's own request (a boot drive clone) runs this long in the cloud; until then
   * create() answers StepInProgress naming the step's resource in lastKnownState. The resource is
   * found again only through that lastKnownState, so a driver that does not hand it back starts a
   * second step (counted in stepRequests).
   */
  stepRunsMs: number;
  /** A VM must stop before its deletion can be requested (CloudSigma); the stop takes this long. */
  stopFirstMs: number;
  /** What a VM owned takes this long to go after releaseMachine asked for it. */
  releaseTakesMs: number;
}

export class MemoryCloud {
  readonly vms: MemoryVm[] = [];
  readonly createRequests: string[] = [];
  readonly deleteRequests: string[] = [];
  readonly released: string[] = [];
  /** Requests that started a step before a VM (a clone), by Machine. */
  readonly stepRequests: string[] = [];
  /** Step resources (a cloned drive) → when the step is done. */
  readonly steps = new Map<string, number>();
  /** VM id → when its stop, requested by delete(), is done. */
  readonly stops = new Map<string, number>();
  /** Machine → when what it owned is gone, once releaseMachine asked. */
  readonly releasing = new Map<string, number>();
  /** What a VM owns (a boot drive, a script): machine name → present. */
  readonly owned = new Set<string>();
  knobs: Knobs = { listLagMs: 0, loseCreateAnswers: 0, refuseCreates: { times: 0, status: 400 }, deleteTakesMs: 0, failDeletes: 0, failReleases: 0, runAfterMs: 0, failNewVms: false, stepRunsMs: 0, stopFirstMs: 0, releaseTakesMs: 0 };
  private seq = 0;

  constructor(readonly cluster = 'shoot--a') {}

  /** VMs that exist (a delete that has not finished counts). */
  live(machine?: string): MemoryVm[] {
    const now = Date.now();
    return this.vms.filter((v) => (v.deletedAtMs === undefined || v.deletedAtMs > now) && (!machine || v.machine === machine));
  }

  seed(machine: string, opts: Partial<MemoryVm> = {}): MemoryVm {
    const vm: MemoryVm = { id: `vm-${++this.seq}`, machine, cluster: this.cluster, createdAtMs: Date.now() - 60_000, state: 'running', runningAtMs: 0, ...opts };
    this.vms.push(vm);
    return vm;
  }

  record(v: MemoryVm): VmRecord {
    const now = Date.now();
    // A VM settles once: running, or failed (for good) when failNewVms was set then.
    if (v.state === 'creating' && now >= v.runningAtMs) v.state = this.knobs.failNewVms ? 'failed' : 'running';
    const state: VmState = v.deletedAtMs !== undefined ? 'deleting' : v.state;
    return {
      providerId: `mem://${v.id}`,
      machineName: v.machine,
      state,
      failureMessage: state === 'failed' ? 'host broke' : undefined,
      addresses: [{ type: 'InternalIP', address: '10.0.0.1' }],
      createdAt: new Date(v.createdAtMs).toISOString(),
    };
  }

  session(): CloudSession {
    const cloud = this;
    const byId = (providerId: string) => this.live().find((v) => `mem://${v.id}` === providerId);
    return {
      get: async (providerId) => {
        const vm = byId(providerId);
        return vm ? this.record(vm) : undefined;
      },
      findByMachine: async (machineName) => {
        const now = Date.now();
        // The listing lags both ways: a new VM shows up late, a deleted one goes late.
        return this.vms
          .filter((v) => v.machine === machineName && v.cluster === this.cluster)
          .filter((v) => v.createdAtMs + this.knobs.listLagMs <= now && (v.deletedAtMs === undefined || v.deletedAtMs + this.knobs.listLagMs > now))
          .map((v) => this.record(v));
      },
      // One page: the memory cloud has no paging.
      list: async function* (this: void) {
        yield cloud.live().filter((v) => v.cluster === cloud.cluster).map((v) => cloud.record(v));
      },
      create: async (machine: MachineRef, _signal, hooks) => {
        if (this.knobs.stepRunsMs > 0) {
          let step = stepOf(machine.lastKnownState);
          if (!step || !this.steps.has(step)) {
            step = `step-${++this.seq}`;
            this.steps.set(step, Date.now() + this.knobs.stepRunsMs);
            this.stepRequests.push(machine.name);
          }
          if (Date.now() < this.steps.get(step)!) {
            return { stepInProgress: { step: 'memory step', waitingFor: `${step} is running`, lastKnownState: JSON.stringify({ memoryStep: step }) } };
          }
          this.steps.delete(step);
        }
        hooks.beforeVmRequest();
        this.createRequests.push(machine.name);
        if (this.knobs.refuseCreates.times > 0) {
          this.knobs.refuseCreates.times -= 1;
          throw new CloudApiError('memory', 'create server', 'http', { status: this.knobs.refuseCreates.status });
        }
        const now = Date.now();
        const vm: MemoryVm = { id: `vm-${++this.seq}`, machine: machine.name, cluster: this.cluster, createdAtMs: now, state: 'creating', runningAtMs: now + this.knobs.runAfterMs };
        this.vms.push(vm);
        this.owned.add(machine.name);
        if (this.knobs.loseCreateAnswers > 0) {
          this.knobs.loseCreateAnswers -= 1;
          throw new CloudApiError('memory', 'create server', 'timeout');
        }
        return this.record(vm);
      },
      delete: async (providerId) => {
        if (this.knobs.failDeletes > 0) {
          this.deleteRequests.push(providerId);
          this.knobs.failDeletes -= 1;
          throw new CloudApiError('memory', 'delete server', 'http', { status: 503 });
        }
        const vm = byId(providerId);
        if (vm && this.knobs.stopFirstMs > 0) {
          // Stop first: the first call asks for the stop, later ones see it stopping until it is done.
          if (!this.stops.has(vm.id)) this.stops.set(vm.id, Date.now() + this.knobs.stopFirstMs);
          if (Date.now() < this.stops.get(vm.id)!) return 'call again';
        }
        this.deleteRequests.push(providerId);
        if (vm && vm.deletedAtMs === undefined) vm.deletedAtMs = Date.now() + this.knobs.deleteTakesMs;
        return 'requested';
      },
      releaseMachine: async (machineName) => {
        if (this.live(machineName).length > 0) return undefined;
        if (this.knobs.failReleases > 0) {
          this.knobs.failReleases -= 1;
          throw new CloudApiError('memory', 'delete drive', 'http', { status: 503 });
        }
        if (!this.owned.has(machineName)) return undefined;
        if (!this.releasing.has(machineName)) this.releasing.set(machineName, Date.now() + this.knobs.releaseTakesMs);
        if (Date.now() < this.releasing.get(machineName)!) return `the boot drive of ${machineName}`;
        this.releasing.delete(machineName);
        this.owned.delete(machineName);
        this.released.push(machineName);
        return undefined;
      },
    };
  }

  provider(discoveryWindowMs?: number): CloudProvider {
    return { name: 'memory', discoveryWindowMs, open: async () => this.session(), volumeId: () => undefined };
  }

  driver(options: DriverOptions & { window?: number } = {}): MachineDriver {
    const { window, ...rest } = options;
    return new MachineDriver(new ProviderRegistry([this.provider(window)]), { pollIntervalMs: 20, createTimeoutMs: 2_000, deleteTimeoutMs: 2_000, ...rest });
  }
}

function stepOf(lastKnownState: string): string | undefined {
  try {
    return (JSON.parse(lastKnownState) as { memoryStep?: string }).memoryStep;
  } catch {
    return undefined;
  }
}

export function call(machine: string, o: { providerId?: string; lastKnownState?: string; cluster?: string } = {}) {
  return {
    machine: Buffer.from(JSON.stringify({ metadata: { name: machine, namespace: o.cluster ?? 'shoot--a' }, spec: { providerID: o.providerId ?? '' }, status: { lastKnownState: o.lastKnownState ?? '' } })),
    machineClass: Buffer.from(JSON.stringify({ metadata: { name: 'cls', namespace: o.cluster ?? 'shoot--a' }, provider: 'memory', providerSpec: {} })),
    secretData: {},
  };
}
