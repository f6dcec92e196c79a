import { MachineDriver } from '../../src/driver/machine-driver.js';
import { defaultProviders } from '../../src/providers/index.js';
import { startStackitFake, type StackitFake, type StackitFakeOptions } from '../fakes/stackit/index.js';
import { STACKIT_ACCOUNT, STACKIT_TEST, TEST_MACHINES } from './clouds/index.js';
import { LoopbackHarness, type DriverSettings, type LoopbackCloud } from './loopback-harness.js';
import { STACKIT_SPEC } from './prism.js';

// The account and Machine every STACKIT test uses: test/support/clouds (one descriptor per cloud).
export const PROJECT_ID = STACKIT_ACCOUNT.projectId;
export const OTHER_PROJECT_ID = STACKIT_ACCOUNT.otherProjectId;
export const NAMESPACE = TEST_MACHINES.namespace;
export const CLASS_NAME = TEST_MACHINES.className;
export const REGION = STACKIT_ACCOUNT.region;
export const STATIC_TOKEN = STACKIT_ACCOUNT.staticToken;
export const USER_DATA = '#cloud-config\nruncmd:\n  - echo canary-userdata-4f1d9e\n';

export const BASE_SPEC = {
  region: REGION,
  machineType: 'c2i.2',
  imageId: '0b5f7e4c-1b7a-4c1e-9b65-2d0c9c1e7a11',
  networking: { networkId: '7c1d3e2f-5a6b-4c8d-9e0f-1a2b3c4d5e6f' },
};

export interface HarnessOptions extends DriverSettings {
  fake?: StackitFakeOptions;
  /** Put Prism (proxy, --errors) between the adapter and the fake; default true. */
  prism?: boolean;
}

const STACKIT: LoopbackCloud<StackitFake, object> = {
  spec: STACKIT_SPEC,
  upstream: (fake) => fake.url,
  driver: (fake, apiBase, s) =>
    new MachineDriver(
      defaultProviders({ httpTimeoutMs: s.httpTimeoutMs, retry: s.retry, stackit: { iaasEndpoint: apiBase, tokenEndpoint: fake.tokenUrl } }),
      s.timings,
    ),
};

/**
 * The real thing on loopback (loopback-harness.ts): the stateful STACKIT fake, Prism validating
 * every request and response against the spec, the sidecar's gRPC server and the gRPC client the
 * bridge's calls look like. Log lines are captured so a test can look for secrets in them.
 */
export class StackitHarness extends LoopbackHarness<StackitFake> {
  static async start(options: HarnessOptions = {}): Promise<StackitHarness> {
    const fake = await startStackitFake({ activeAfterMs: 100, deleteAfterMs: 100, ...options.fake });
    const b = await LoopbackHarness.boot(STACKIT, fake, options);
    return new StackitHarness(b.fake, b.prism, b.cloud, b.defaults, b.first);
  }

  secretData(overrides: Record<string, string | undefined> = {}): Record<string, Buffer> {
    const plain: Record<string, string | undefined> = { 'project-id': PROJECT_ID, token: STATIC_TOKEN, userData: USER_DATA, ...overrides };
    return Object.fromEntries(Object.entries(plain).filter(([, v]) => v !== undefined).map(([k, v]) => [k, Buffer.from(v!)]));
  }

  machineClass(spec: object = BASE_SPEC, extra: { name?: string; namespace?: string; provider?: string } = {}): Buffer {
    return Buffer.from(
      JSON.stringify({
        metadata: { name: extra.name ?? CLASS_NAME, namespace: extra.namespace ?? NAMESPACE },
        provider: extra.provider ?? STACKIT_TEST.provider,
        providerSpec: spec,
      }),
    );
  }

  machine(name: string, providerID = '', namespace = NAMESPACE): Buffer {
    return Buffer.from(JSON.stringify({ metadata: { name, namespace }, spec: { providerID, class: { kind: 'MachineClass', name: CLASS_NAME } } }));
  }

  /** A request of CreateMachine, InitializeMachine, DeleteMachine or GetMachineStatus. */
  request(name: string, opts: { providerID?: string; spec?: object; secret?: Record<string, Buffer>; classBytes?: Buffer } = {}) {
    return {
      machine: this.machine(name, opts.providerID),
      machineClass: opts.classBytes ?? this.machineClass(opts.spec),
      secretData: opts.secret ?? this.secretData(),
    };
  }

  listRequest(opts: { spec?: object; classBytes?: Buffer; secret?: Record<string, Buffer> } = {}) {
    return { machineClass: opts.classBytes ?? this.machineClass(opts.spec), secretData: opts.secret ?? this.secretData() };
  }

  /** Servers of this project, not being deleted. */
  liveServers() {
    return this.fake.servers().filter((s) => s.projectId === PROJECT_ID && s.status !== 'DELETING');
  }

  createRequests() {
    return this.fake.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/servers'));
  }
}
