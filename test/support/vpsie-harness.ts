import { resolve } from 'node:path';
import { MachineCode } from '../../src/driver/codes.js';
import { MachineDriver, type DriverTimings } from '../../src/driver/machine-driver.js';
import { ProviderRegistry } from '../../src/driver/provider-registry.js';
import type { RetryPolicy } from '../../src/http/retry-policy.js';
import { VpsieProvider, type VpsieProviderOptions } from '../../src/providers/vpsie/vpsie-provider.js';
import { DriverServiceClient, isDriverCallError, type DriverCallError } from '../../src/server/driver-client.js';
import { startSidecar, type Sidecar } from '../../src/server/sidecar.js';
import { packageRoot } from '../../src/support/package-root.js';
import { FAKE_ACCOUNT_PASSWORD, FAKE_TOKEN, startVpsieFake, type VpsieFake, type VpsieFakeOptions } from '../fakes/vpsie/index.js';
import { startPrismProxy, type PrismProcess } from './prism.js';
import { LogCapture } from './log-capture.js';

export const VPSIE_SPEC = resolve(packageRoot, 'specs', 'vpsie.yaml');
export const NAMESPACE = 'shoot--garden--alpha';
export const CLASS_NAME = 'alpha-worker-z1';
export const PROJECT_ID = 4242;
export const API_TOKEN = FAKE_TOKEN;
export const ACCOUNT_PASSWORD = FAKE_ACCOUNT_PASSWORD;
export const USER_DATA = '#cloud-config\nruncmd:\n  - echo canary-userdata-7c2e\n';

export const BASE_SPEC = {
  projectId: PROJECT_ID,
  dcIdentifier: 'dc-ny-1',
  resourceIdentifier: 'plan-4c-8g',
  osIdentifier: 'ubuntu-24-04',
};

export interface VpsieHarnessOptions {
  fake?: VpsieFakeOptions;
  timings?: Partial<DriverTimings>;
  provider?: Partial<VpsieProviderOptions>;
  retry?: Partial<RetryPolicy>;
  httpTimeoutMs?: number;
  /** Put Prism (proxy, --errors) between the adapter and the fake; default true. */
  prism?: boolean;
  /** Where the VM calls go: `/apps/v2` (default, the Terraform provider's path) or `/api/v2` (govpsie's newest); pending and scripts always `/apps/v2`. */
  vmFamily?: '/apps/v2' | '/api/v2';
}

export type Status = { providerId: string; nodeName: string; addresses: Array<{ type: string; address: string }> };

/**
 * The VPSie fake behind Prism (every request and response checked against
 * specs/vpsie.yaml), the sidecar's gRPC server with only the VPSie provider,
 * and the gRPC client the bridge's calls look like. Discovery timings are
 * short but generous (another suite may share the 2 cores).
 */
export class VpsieHarness {
  get logs(): string[] {
    return this.capture.lines;
  }
  private readonly capture = new LogCapture();

  private constructor(
    readonly fake: VpsieFake,
    readonly prism: PrismProcess | undefined,
    readonly sidecar: Sidecar,
    readonly client: DriverServiceClient,
  ) {}

  static async start(options: VpsieHarnessOptions = {}): Promise<VpsieHarness> {
    const fake = await startVpsieFake(options.fake);
    const prism = options.prism === false ? undefined : await startPrismProxy(VPSIE_SPEC, fake.url);
    const provider = new VpsieProvider({
      apiEndpoint: `${prism?.url ?? fake.url}${options.vmFamily ?? '/apps/v2'}`,
      appsEndpoint: `${prism?.url ?? fake.url}/apps/v2`,
      httpTimeoutMs: options.httpTimeoutMs ?? 5_000,
      retry: { baseDelayMs: 5, maxDelayMs: 20, ...options.retry },
      discoveryPollIntervalMs: 50,
      discoveryCallBudgetMs: 1_500,
      // One sidecar serves a whole test file: VPSie's 100-a-minute default would throttle the file, not model a Machine.
      requestsPerMinute: 100_000,
      ...options.provider,
    });
    const driver = new MachineDriver(new ProviderRegistry([provider]), {
      pollIntervalMs: 50,
      createTimeoutMs: 10_000,
      deleteTimeoutMs: 10_000,
      ...options.timings,
    });
    const sidecar = await startSidecar({ listen: '127.0.0.1:0', httpListen: '', driver, shutdownGraceMs: 2_000 });
    const h = new VpsieHarness(fake, prism, sidecar, new DriverServiceClient(sidecar.grpcTarget));
    return h;
  }

  secretData(overrides: Record<string, string | undefined> = {}): Record<string, Buffer> {
    const plain: Record<string, string | undefined> = { 'api-token': API_TOKEN, 'account-password': ACCOUNT_PASSWORD, userData: USER_DATA, ...overrides };
    return Object.fromEntries(Object.entries(plain).filter(([, v]) => v !== undefined).map(([k, v]) => [k, Buffer.from(v!)]));
  }

  machineClass(spec: object = BASE_SPEC, extra: { name?: string; namespace?: string; provider?: string } = {}): Buffer {
    return Buffer.from(
      JSON.stringify({
        metadata: { name: extra.name ?? CLASS_NAME, namespace: extra.namespace ?? NAMESPACE },
        provider: extra.provider ?? 'VPSie',
        providerSpec: spec,
      }),
    );
  }

  machine(name: string, providerID = '', lastKnownState = ''): Buffer {
    return Buffer.from(
      JSON.stringify({
        metadata: { name, namespace: NAMESPACE },
        spec: { providerID, class: { kind: 'MachineClass', name: CLASS_NAME } },
        status: lastKnownState ? { lastKnownState } : {},
      }),
    );
  }

  request(name: string, opts: { providerID?: string; lastKnownState?: string; spec?: object; secret?: Record<string, Buffer>; classBytes?: Buffer } = {}) {
    return {
      machine: this.machine(name, opts.providerID, opts.lastKnownState),
      machineClass: opts.classBytes ?? this.machineClass(opts.spec),
      secretData: opts.secret ?? this.secretData(),
    };
  }

  listRequest(opts: { spec?: object; classBytes?: Buffer; secret?: Record<string, Buffer> } = {}) {
    return { machineClass: opts.classBytes ?? this.machineClass(opts.spec), secretData: opts.secret ?? this.secretData() };
  }

  /** The create requests that reached the fake (behind Prism: valid ones only). */
  createRequests() {
    return this.fake.requests.filter((r) => r.method === 'POST' && (r.path === '/apps/v2/vm' || r.path === '/api/v2/vm'));
  }

  /** VMs not being deleted, in any phase (invisible, pending, listed, running). */
  liveVms() {
    return this.fake.vms().filter((v) => v.phase !== 'deleting');
  }


  async close(): Promise<void> {
    this.capture.stop();
    this.client.close();
    await this.sidecar.shutdown();
    await this.prism?.close();
    await this.fake.close();
  }
}

/** MCM's codes after which it keeps an existing lastKnownState (mcm-contract.md §3, machineCreateErrorHandler). */
const KEEPS_EXISTING = new Set<number>([MachineCode.ResourceExhausted, MachineCode.Unknown, MachineCode.DeadlineExceeded, MachineCode.Aborted, MachineCode.Unavailable]);

export type FlowStep = (
  | { call: 'GetMachineStatus'; ok: true; status: Status; sentLastKnownState: string }
  | { call: 'GetMachineStatus' | 'CreateMachine'; ok: false; error: DriverCallError; sentLastKnownState: string }
  | { call: 'CreateMachine'; ok: true; status: Status; sentLastKnownState: string }
) & {
  /** Create requests the fake had received when the call ended. */
  createRequestsAfter?: number;
};

/**
 * One Machine as MCM's creation flow treats it: GetMachineStatus first;
 * CreateMachine only on NotFound (with an empty providerID); the Machine's
 * status.lastKnownState kept or replaced exactly as machineCreateErrorHandler
 * does (an unexpected GetMachineStatus code runs it with a nil response).
 */
export class McmMachine {
  lastKnownState = '';
  providerId = '';
  readonly steps: FlowStep[] = [];

  constructor(
    private readonly h: VpsieHarness,
    readonly name: string,
  ) {}

  /** One pass of triggerCreationFlow; true once MCM would have the VM (providerID set). */
  async pass(): Promise<boolean> {
    const before = this.steps.length;
    try {
      return await this.passSteps();
    } finally {
      for (const s of this.steps.slice(before)) s.createRequestsAfter ??= this.h.createRequests().length;
    }
  }

  private async passSteps(): Promise<boolean> {
    try {
      const status = await this.h.client.call<Status>('GetMachineStatus', this.h.request(this.name, { lastKnownState: this.lastKnownState }));
      this.steps.push({ call: 'GetMachineStatus', ok: true, status, sentLastKnownState: this.lastKnownState });
      this.providerId = status.providerId;
      return true;
    } catch (err) {
      if (!isDriverCallError(err)) throw err;
      if (err.code !== MachineCode.NotFound) {
        this.steps.push({ call: 'GetMachineStatus', ok: false, error: err, sentLastKnownState: this.lastKnownState });
        this.afterError(err.code, '');
        return false;
      }
    }
    const sent = this.lastKnownState;
    try {
      const status = await this.h.client.call<Status>('CreateMachine', this.h.request(this.name, { lastKnownState: sent }));
      this.steps.push({ call: 'CreateMachine', ok: true, status, sentLastKnownState: sent });
      this.providerId = status.providerId;
      return true;
    } catch (err) {
      if (!isDriverCallError(err)) throw err;
      this.steps.push({ call: 'CreateMachine', ok: false, error: err, sentLastKnownState: sent });
      this.afterError(err.code, String(err.response?.lastKnownState ?? ''));
      return false;
    }
  }

  /** Passes until the VM is adopted, pausing between passes like MCM's 5 s retry (shortened). */
  async untilAdopted(maxPasses = 40, pauseMs = 100): Promise<Status> {
    for (let i = 0; i < maxPasses; i++) {
      if (await this.pass()) {
        const last = this.steps[this.steps.length - 1]!;
        return (last as { status: Status }).status;
      }
      await new Promise((r) => setTimeout(r, pauseMs));
    }
    throw new Error(`machine ${this.name} not adopted after ${maxPasses} passes: ${this.steps.map(describeStep).join(' | ')}`);
  }

  private afterError(code: number, responseState: string): void {
    if (KEEPS_EXISTING.has(code)) {
      if (!this.lastKnownState) this.lastKnownState = responseState;
    } else {
      this.lastKnownState = responseState;
    }
  }
}

export function describeStep(s: FlowStep): string {
  return s.ok ? `${s.call} OK` : `${s.call} code ${s.error.code}: ${s.error.details}`;
}
