import { resolve } from 'node:path';
import { MachineCode } from '../../src/driver/codes.js';
import { MachineDriver } from '../../src/driver/machine-driver.js';
import { ProviderRegistry } from '../../src/driver/provider-registry.js';
import { VpsieProvider, type VpsieProviderOptions } from '../../src/providers/vpsie/vpsie-provider.js';
import { isDriverCallError, type DriverCallError } from '../../src/server/driver-client.js';
import { packageRoot } from '../../src/support/package-root.js';
import { startVpsieFake, type VpsieFake, type VpsieFakeOptions } from '../fakes/vpsie/index.js';
import { TEST_MACHINES, VPSIE_ACCOUNT, VPSIE_TEST } from './clouds/index.js';
import { LoopbackHarness, type DriverSettings, type LoopbackCloud } from './loopback-harness.js';

export const VPSIE_SPEC = resolve(packageRoot, VPSIE_TEST.specFile);
// The account and Machine every VPSie test uses: test/support/clouds (one descriptor per cloud).
export const NAMESPACE = TEST_MACHINES.namespace;
export const CLASS_NAME = TEST_MACHINES.className;
export const PROJECT_ID = VPSIE_ACCOUNT.projectId;
export const API_TOKEN = VPSIE_ACCOUNT.token;
export const ACCOUNT_PASSWORD = VPSIE_ACCOUNT.accountPassword;
export const USER_DATA = '#cloud-config\nruncmd:\n  - echo canary-userdata-7c2e\n';

export const BASE_SPEC = {
  projectId: PROJECT_ID,
  dcIdentifier: 'dc-ny-1',
  resourceIdentifier: 'plan-4c-8g',
  osIdentifier: 'ubuntu-24-04',
};

export interface VpsieHarnessOptions extends DriverSettings<VpsieProviderOptions> {
  fake?: VpsieFakeOptions;
  /** Put Prism (proxy, --errors) between the adapter and the fake; default true. */
  prism?: boolean;
  /** Where the VM calls go: `/apps/v2` (default, the Terraform provider's path) or `/api/v2` (govpsie's newest); pending and scripts always `/apps/v2`. */
  vmFamily?: '/apps/v2' | '/api/v2';
}

export type Status = { providerId: string; nodeName: string; addresses: Array<{ type: string; address: string }> };

function vpsieCloud(vmFamily: '/apps/v2' | '/api/v2'): LoopbackCloud<VpsieFake, VpsieProviderOptions> {
  return {
    spec: VPSIE_SPEC,
    upstream: (fake) => fake.url,
    driver: (_fake, apiBase, s) => {
      const provider = new VpsieProvider({
        apiEndpoint: `${apiBase}${vmFamily}`,
        appsEndpoint: `${apiBase}/apps/v2`,
        httpTimeoutMs: s.httpTimeoutMs,
        retry: s.retry,
        // One sidecar serves a whole test file: VPSie's 100-a-minute default would throttle the file, not model a Machine.
        requestsPerMinute: 100_000,
        ...s.provider,
      });
      return new MachineDriver(new ProviderRegistry([provider]), s.timings);
    },
  };
}

/**
 * The real thing on loopback (loopback-harness.ts): the VPSie fake behind Prism (every request and
 * response checked against specs/vpsie.yaml), the sidecar's gRPC server with only the VPSie
 * provider, and the gRPC client the bridge's calls look like. Discovery timings are short but
 * generous (another suite may share the 2 cores).
 */
export class VpsieHarness extends LoopbackHarness<VpsieFake, VpsieProviderOptions> {
  static async start(options: VpsieHarnessOptions = {}): Promise<VpsieHarness> {
    const fake = await startVpsieFake(options.fake);
    const b = await LoopbackHarness.boot(vpsieCloud(options.vmFamily ?? '/apps/v2'), fake, options);
    return new VpsieHarness(b.fake, b.prism, b.cloud, b.defaults, b.first);
  }

  secretData(overrides: Record<string, string | undefined> = {}): Record<string, Buffer> {
    const plain: Record<string, string | undefined> = { 'api-token': API_TOKEN, 'account-password': ACCOUNT_PASSWORD, userData: USER_DATA, ...overrides };
    return Object.fromEntries(Object.entries(plain).filter(([, v]) => v !== undefined).map(([k, v]) => [k, Buffer.from(v!)]));
  }

  machineClass(spec: object = BASE_SPEC, extra: { name?: string; namespace?: string; provider?: string } = {}): Buffer {
    return Buffer.from(
      JSON.stringify({
        metadata: { name: extra.name ?? CLASS_NAME, namespace: extra.namespace ?? NAMESPACE },
        provider: extra.provider ?? VPSIE_TEST.provider,
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

  /**
   * CreateMachine as MCM calls it: again after Unavailable (5 s in MCM,
   * shortened), with the lastKnownState MCM keeps. VPSie's create answers no
   * id, so the VM is found by a later call once VPSie lists it.
   */
  async create(name: string, opts: Parameters<VpsieHarness['request']>[1] = {}, attempts = 60): Promise<Status> {
    let lastKnownState = opts.lastKnownState ?? '';
    for (let i = 0; ; i++) {
      try {
        return await this.client.call<Status>('CreateMachine', this.request(name, { ...opts, lastKnownState }));
      } catch (err) {
        if (!isDriverCallError(err) || err.code !== MachineCode.Unavailable || i >= attempts) throw err;
        lastKnownState ||= String(err.response?.lastKnownState ?? '');
        await new Promise((r) => setTimeout(r, 100));
      }
    }
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
