// One shape over the three in-process harnesses (test/support/*-harness.ts), so reliability tests
// can be written once and run per cloud: requests with lastKnownState, the fault paths of each
// MCM operation, what counts as "a VM of this Machine" and what counts as a leaked resource.
import { MachineCode } from '../../src/driver/codes.js';
import type { DriverTimings } from '../../src/driver/machine-driver.js';
import { registry } from '../../src/observability/metrics.js';
import type { CloudSigmaFakeOptions } from '../fakes/cloudsigma/index.js';
import type { AfterSuccess, ListingLagOptions } from '../fakes/core/index.js';
import type { StackitFakeOptions } from '../fakes/stackit/index.js';
import type { VpsieFakeOptions } from '../fakes/vpsie/index.js';
import type { DriverCallError } from '../../src/server/driver-client.js';
import { isDriverCallError } from '../../src/server/driver-client.js';
import { ALICE as CS_ALICE, BOB as CS_BOB, CloudSigmaHarness } from './cloudsigma-harness.js';
import { PROJECT_ID as ST_PROJECT, REGION as ST_REGION, StackitHarness } from './stackit-harness.js';
import { PROJECT_ID as VP_PROJECT, VpsieHarness } from './vpsie-harness.js';
import { CLOUDSIGMA_TEST, STACKIT_TEST, TEST_MACHINES, VPSIE_TEST, type CloudName, type OperationRoutes } from './clouds/index.js';

export type { CloudName } from './clouds/index.js';
export const CLOUDS: CloudName[] = ['stackit', 'cloudsigma', 'vpsie'];

/** The fault of one fake, the union of what all three accept. */
export interface Fault {
  method?: string;
  path?: RegExp;
  times?: number;
  status?: number;
  body?: unknown;
  rawBody?: string;
  /**
   * With `status`: the error message echoes the request as received, its Authorization header and
   * body included (what some gateways and error pages do); the secret-canary matrix relies on it.
   */
  echoRequest?: boolean;
  headers?: Record<string, string>;
  delayMs?: number;
  reset?: boolean;
  /** The request takes effect, then its answer is dropped, cut, or replaced by this 5xx (test/fakes/core/fault-spec.ts). */
  afterSuccess?: AfterSuccess;
}

export interface RecordedCall {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
}

/** Which cloud request each MCM operation's fault hits: the cloud's test descriptor (test/support/clouds). */
export type OperationPaths = Omit<OperationRoutes, 'any'>;

export interface Status {
  providerId: string;
  nodeName: string;
}

export interface CloudKit {
  readonly cloud: CloudName;
  readonly paths: OperationPaths;
  /** "HTTP 200 with an error body" in this cloud's own error format. */
  readonly errorBody200: unknown;
  readonly logs: string[];
  /** The sidecar's /metrics text (one registry per process: every in-process cloud's series). */
  metrics(): Promise<string>;
  request(name: string, opts?: { providerID?: string; lastKnownState?: string; secret?: Record<string, Buffer> }): object;
  listRequest(opts?: { secret?: Record<string, Buffer> }): object;
  secretData(overrides?: Record<string, string | undefined>): Record<string, Buffer>;
  call<T = Record<string, unknown>>(method: 'CreateMachine' | 'GetMachineStatus' | 'DeleteMachine' | 'ListMachines' | 'InitializeMachine', req: object, deadlineMs?: number): Promise<T>;
  injectFault(f: Fault): void;
  /** Listings lag creates and completed deletes from now on ({} = none); reset() restores none (test/fakes/core/listing-lag.ts). */
  setListingLag(lag: ListingLagOptions): void;
  /** The cloud's own capacity error from now on (STACKIT: accepted, then ERROR "No valid host was found"; CloudSigma: 503; VPSie: 200 + error body); false restores. */
  setOutOfCapacity(on: boolean): void;
  /** Access tokens the fake's token endpoints issued (none for VPSie, which fetches no token). */
  issuedTokens(): string[];
  /** The fake revokes every token it issued (no-op for VPSie). */
  revokeTokens(): void;
  clearFaults(): void;
  reset(): void;
  requests(): RecordedCall[];
  /** VMs carrying this Machine's markers, not being deleted. */
  vmsOf(machine: string): Array<{ id: string }>;
  /** Every live VM of the account. */
  allVms(): Array<{ id: string; machine?: string }>;
  /** Volumes, drives or scripts left over: not belonging to any live VM. */
  leaks(): string[];
  /**
   * Seeds VMs the driver must never list, adopt or delete, all looking like `machine`'s: of another
   * cluster, of another class (under another Machine name), hand-made with the Machine's name and no
   * markers, and with only some of the markers.
   */
  seedLookAlikes(machine: string): Array<{ id: string; what: string }>;
  /** Every live VM id, including ones being deleted. */
  vmIds(): string[];
  close(): Promise<void>;
}

const NS = TEST_MACHINES.namespace;
const CLASS = TEST_MACHINES.className;

function machineBytes(name: string, providerID = '', lastKnownState = ''): Buffer {
  return Buffer.from(
    JSON.stringify({
      metadata: { name, namespace: NS },
      spec: { providerID, class: { kind: 'MachineClass', name: CLASS } },
      status: lastKnownState ? { lastKnownState } : {},
    }),
  );
}

export interface KitOptions {
  /** Prism between driver and fake (default false: Prism would rewrite the faults under test). */
  prism?: boolean;
  httpTimeoutMs?: number;
  timings?: Partial<DriverTimings>;
  /** Options of the cloud's fake, e.g. the credentials it accepts. */
  fake?: StackitFakeOptions & CloudSigmaFakeOptions & VpsieFakeOptions;
}

export async function startKit(cloud: CloudName, options: KitOptions = {}): Promise<CloudKit> {
  const prism = options.prism ?? false;
  const httpTimeoutMs = options.httpTimeoutMs ?? 5_000;
  const timings = options.timings;
  switch (cloud) {
    case 'stackit': {
      const h = await StackitHarness.start({ prism, httpTimeoutMs, timings, fake: options.fake });
      return {
        cloud,
        paths: STACKIT_TEST.routes,
        errorBody200: STACKIT_TEST.errorBody200,
        logs: h.logs,
        metrics: () => registry.metrics(),
        request: (name, o = {}) => ({ machine: machineBytes(name, o.providerID, o.lastKnownState), machineClass: h.machineClass(), secretData: o.secret ?? h.secretData() }),
        listRequest: (o = {}) => h.listRequest({ secret: o.secret }),
        secretData: (o) => h.secretData(o),
        call: (m, req, deadlineMs) => h.client.call(m, req, { deadlineMs }),
        injectFault: (f) => h.fake.injectFault(f),
        setListingLag: (lag) => h.fake.setListingLag(lag),
        setOutOfCapacity: (on) => h.fake.setOutOfCapacity(on),
        issuedTokens: () => ('issuedTokens' in h.fake ? (h.fake as { issuedTokens(): string[] }).issuedTokens() : []),
        revokeTokens: () => ('revokeTokens' in h.fake ? (h.fake as { revokeTokens(): void }).revokeTokens() : undefined),
        clearFaults: () => h.fake.clearFaults(),
        reset: () => h.fake.reset(),
        requests: () => h.fake.requests,
        vmsOf: (m) => h.liveServers().filter((s) => s.labels[STACKIT_TEST.markers.machine] === m && s.labels[STACKIT_TEST.markers.cluster] === NS),
        allVms: () => h.liveServers().map((s) => ({ id: s.id, machine: s.labels[STACKIT_TEST.markers.machine] })),
        leaks: () => {
          const live = new Set(h.fake.servers().map((s) => s.id));
          return h.fake.volumes().filter((v) => !v.serverId || !live.has(v.serverId)).map((v) => `volume ${v.id}`);
        },
        seedLookAlikes: (m) => {
          const seed = (what: string, name: string, labels: Record<string, string>) => ({ what, id: h.fake.seedServer({ projectId: ST_PROJECT, region: ST_REGION, name, labels }).id });
          const L = { machine: STACKIT_TEST.markers.machine, cls: STACKIT_TEST.markers.machineClass, cluster: STACKIT_TEST.markers.cluster };
          return [
            seed('other cluster, same Machine and class', m, { [L.machine]: m, [L.cls]: CLASS, [L.cluster]: TEST_MACHINES.otherCluster }),
            seed('other class of this cluster', `${m}-b`, { [L.machine]: `${m}-b`, [L.cls]: 'beta-worker', [L.cluster]: NS }),
            seed('hand-made, same name, no labels', m, {}),
            seed('Go-provider labels only (no cluster label)', m, { [L.machine]: m, [L.cls]: CLASS }),
            seed('class and cluster, no machine label', `${m}-c`, { [L.cls]: CLASS, [L.cluster]: NS }),
            seed('look-alike label values (prefix)', m, { [L.machine]: `${m}x`, [L.cls]: `${CLASS}x`, [L.cluster]: `${NS}x` }),
          ];
        },
        vmIds: () => h.fake.servers().map((x) => x.id),
        close: () => h.close(),
      };
    }
    case 'cloudsigma': {
      const h = await CloudSigmaHarness.start({ prism, httpTimeoutMs, timings, fake: options.fake });
      return {
        cloud,
        paths: CLOUDSIGMA_TEST.routes,
        errorBody200: CLOUDSIGMA_TEST.errorBody200,
        logs: h.logs,
        metrics: () => registry.metrics(),
        request: (name, o = {}) => ({ machine: machineBytes(name, o.providerID, o.lastKnownState), machineClass: h.machineClass(), secretData: o.secret ?? h.secretData() }),
        listRequest: (o = {}) => h.listRequest({ secret: o.secret }),
        secretData: (o) => h.secretData('basic', o),
        call: (m, req, deadlineMs) => h.client.call(m, req, { deadlineMs }),
        injectFault: (f) => h.fake.injectFault(f),
        setListingLag: (lag) => h.fake.setListingLag(lag),
        // cloudsigma-docs general.rst: 503 "when the system is out of capacity", at any of the create's three steps.
        setOutOfCapacity: (on) => h.fake.setOutOfCapacity(on ? ['clone', 'create', 'start'] : []),
        issuedTokens: () => ('issuedTokens' in h.fake ? (h.fake as { issuedTokens(): string[] }).issuedTokens() : []),
        revokeTokens: () => ('revokeTokens' in h.fake ? (h.fake as { revokeTokens(): void }).revokeTokens() : undefined),
        clearFaults: () => h.fake.clearFaults(),
        reset: () => h.fake.reset(),
        requests: () => h.fake.requests,
        vmsOf: (m) => h.serversOf().filter((s) => s.meta[CLOUDSIGMA_TEST.markers.machine] === m && s.meta[CLOUDSIGMA_TEST.markers.cluster] === NS).map((s) => ({ id: s.uuid })),
        allVms: () => h.serversOf().map((s) => ({ id: s.uuid, machine: s.meta[CLOUDSIGMA_TEST.markers.machine] })),
        leaks: () => h.drivesOf().filter((d) => d.mounted_on.length === 0).map((d) => `drive ${d.uuid} ${d.name}`),
        seedLookAlikes: (m) => {
          const seed = (what: string, name: string, meta: Record<string, string>, owner = CS_ALICE) => ({ what, id: h.fake.seedServer({ owner, name, meta, status: 'running' }).uuid });
          const drive = 'b007d71e-0000-4000-8000-00000000000d';
          const all = (machine: string, cls: string, cluster: string) => ({
            'kubernetes.io/machine': machine,
            'kubernetes.io/machineclass': cls,
            'mcm-grpc-driver.io/cluster': cluster,
            'mcm-grpc-driver.io/boot-drive': drive,
          });
          const { 'mcm-grpc-driver.io/cluster': _c, ...noCluster } = all(m, CLASS, NS);
          const { 'kubernetes.io/machine': _m, ...noMachine } = all(m, CLASS, NS);
          return [
            seed('other cluster, same Machine and class', m, all(m, CLASS, 'shoot--garden--beta')),
            seed('other class of this cluster', `${m}-b`, all(`${m}-b`, 'beta-worker', NS)),
            seed('hand-made, same name, no meta', m, {}),
            seed('Machine and class markers, no cluster marker', m, noCluster),
            seed('no machine marker', `${m}-c`, noMachine),
            seed('another user of the account (bob), all markers', m, all(m, CLASS, NS), CS_BOB),
          ];
        },
        vmIds: () => h.fake.servers().map((x) => x.uuid),
        close: () => h.close(),
      };
    }
    case 'vpsie': {
      const h = await VpsieHarness.start({ prism, httpTimeoutMs, timings, fake: options.fake });
      return {
        cloud,
        paths: VPSIE_TEST.routes,
        errorBody200: VPSIE_TEST.errorBody200,
        logs: h.logs,
        metrics: () => registry.metrics(),
        request: (name, o = {}) => ({ machine: machineBytes(name, o.providerID, o.lastKnownState), machineClass: h.machineClass(), secretData: o.secret ?? h.secretData() }),
        listRequest: (o = {}) => h.listRequest({ secret: o.secret }),
        secretData: (o) => h.secretData(o),
        call: (m, req, deadlineMs) => h.client.call(m, req, { deadlineMs }),
        injectFault: (f) => h.fake.injectFault(f),
        // GET /vm lags; the VM stays in the pending view meanwhile (test/fakes/vpsie/listing.ts).
        setListingLag: (lag) => h.fake.setListingLag(lag),
        // VPSie documents no capacity error: HTTP 200, error: true, "No capacity available ..." [unconfirmed] (test/fakes/vpsie/routes.ts).
        setOutOfCapacity: (on) => h.fake.setOutOfCapacity(on),
        issuedTokens: () => ('issuedTokens' in h.fake ? (h.fake as { issuedTokens(): string[] }).issuedTokens() : []),
        revokeTokens: () => ('revokeTokens' in h.fake ? (h.fake as { revokeTokens(): void }).revokeTokens() : undefined),
        clearFaults: () => h.fake.clearFaults(),
        reset: () => h.fake.reset(),
        requests: () => h.fake.requests,
        vmsOf: (m) => h.liveVms().filter((v) => v.hostname === m).map((v) => ({ id: v.identifier })),
        allVms: () => h.liveVms().map((v) => ({ id: v.identifier, machine: v.hostname })),
        leaks: () => {
          const hosts = new Set(h.liveVms().map((v) => v.hostname));
          return h.fake.scripts().filter((s) => !hosts.has(s.script_name.replace(/\.sh$/, ''))).map((s) => `script ${s.script_name}`);
        },
        seedLookAlikes: (m) => {
          const seed = (what: string, hostname: string, notes?: string, tags: string[] = []) => ({ what, id: h.fake.seedVm({ hostname, projectId: VP_PROJECT, notes, tags }).identifier });
          const line = (cluster: string, cls: string, machine: string) => `mcm-grpc-driver: cluster=${cluster} class=${cls} machine=${machine}`;
          return [
            seed('other cluster, same Machine and class', `${m}-a`, line('shoot--garden--beta', CLASS, `${m}-a`)),
            seed('other class of this cluster', `${m}-b`, line(NS, 'beta-worker', `${m}-b`)),
            // Tags are markers too (VPSie keeps them, issue 13), and a notes marker is found anywhere in re-encoded
            // notes, so a VM carrying all three tags or the whole marker of this cluster, class and hostname is ours
            // by definition (as a STACKIT server with all our labels is). Look-alikes lack some part of it:
            seed('hand-made, no notes, marker tags without the class', `${m}-c`, undefined, [`mcm-cluster:${NS}`, `mcm-machine:${m}-c`]),
            seed('marker naming another hostname', `${m}-d`, line(NS, CLASS, `${m}-e`)),
            seed('notes marker without machine, tags of another cluster', `${m}-f`, `mcm-grpc-driver: cluster=${NS} class=${CLASS};`, [`mcm-cluster:shoot--garden--beta`, `mcm-class:${CLASS}`, `mcm-machine:${m}-f`]),
          ];
        },
        vmIds: () => h.fake.vms().map((v) => v.identifier),
        close: () => h.close(),
      };
    }
  }
}

/** MCM's codes after which it keeps an existing lastKnownState (machineCreateErrorHandler). */
const KEEPS_EXISTING = new Set<number>([MachineCode.ResourceExhausted, MachineCode.Unknown, MachineCode.DeadlineExceeded, MachineCode.Aborted, MachineCode.Unavailable]);

/**
 * One Machine driven the way MCM's creation flow drives it: GetMachineStatus, then CreateMachine
 * only on NotFound, lastKnownState kept or replaced as MCM does. `pass()` is one reconcile.
 */
export class McmFlow {
  lastKnownState = '';
  providerId = '';
  readonly codes: number[] = [];

  constructor(
    private readonly call: CloudKit['call'],
    private readonly request: CloudKit['request'],
    readonly name: string,
  ) {}

  static of(kit: CloudKit, name: string): McmFlow {
    return new McmFlow(kit.call, kit.request, name);
  }

  async pass(): Promise<boolean> {
    try {
      const s = await this.call<Status>('GetMachineStatus', this.request(this.name, { providerID: this.providerId, lastKnownState: this.lastKnownState }));
      this.providerId = s.providerId;
      this.codes.push(0);
      return true;
    } catch (err) {
      if (!isDriverCallError(err)) throw err;
      this.codes.push(err.code);
      if (err.code === MachineCode.Uninitialized) {
        // MCM initializes a VM that exists but is not initialized (CloudSigma: stopped), then checks again.
        const init = await outcome(this.call('InitializeMachine', this.request(this.name, { providerID: this.providerId || String(err.response?.providerId ?? '') })));
        this.codes.push(init.code);
        return false;
      }
      if (err.code !== MachineCode.NotFound) {
        this.afterError(err);
        return false;
      }
    }
    try {
      const s = await this.call<Status>('CreateMachine', this.request(this.name, { lastKnownState: this.lastKnownState }));
      this.providerId = s.providerId;
      this.codes.push(0);
      return true;
    } catch (err) {
      if (!isDriverCallError(err)) throw err;
      this.codes.push(err.code);
      this.afterError(err);
      return false;
    }
  }

  async untilRunning(maxPasses = 30, pauseMs = 100): Promise<Status> {
    for (let i = 0; i < maxPasses; i++) {
      if (await this.pass()) return { providerId: this.providerId, nodeName: this.name };
      await new Promise((r) => setTimeout(r, pauseMs));
    }
    throw new Error(`machine ${this.name} did not converge in ${maxPasses} passes; codes ${this.codes.join(',')}`);
  }

  private afterError(err: DriverCallError): void {
    const state = String(err.response?.lastKnownState ?? '');
    if (KEEPS_EXISTING.has(err.code)) {
      if (!this.lastKnownState) this.lastKnownState = state;
    } else {
      this.lastKnownState = state;
    }
  }
}

/** The code a call ends with (0 for OK) and its error, if any. */
export async function outcome<T>(p: Promise<T>): Promise<{ code: number; error?: DriverCallError; value?: T }> {
  try {
    return { code: 0, value: await p };
  } catch (err) {
    if (isDriverCallError(err)) return { code: err.code, error: err };
    throw err;
  }
}

export async function waitUntil(probe: () => boolean, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`${what} not reached in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
