import { MachineDriver, type DriverTimings } from '../../src/driver/machine-driver.js';
import type { RetryPolicy } from '../../src/http/retry-policy.js';
import { defaultProviders } from '../../src/providers/index.js';
import { DriverServiceClient } from '../../src/server/driver-client.js';
import { startSidecar, type Sidecar } from '../../src/server/sidecar.js';
import { startStackitFake, type StackitFake, type StackitFakeOptions } from '../fakes/stackit/index.js';
import { LogCapture } from './log-capture.js';
import { STACKIT_SPEC, startPrismProxy, type PrismProcess } from './prism.js';

export const PROJECT_ID = '3f1c2a4b-5d6e-4f70-8a9b-0c1d2e3f4a5b';
export const OTHER_PROJECT_ID = '9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a';
export const NAMESPACE = 'shoot--garden--alpha';
export const CLASS_NAME = 'alpha-worker-z1';
export const REGION = 'eu01';
export const STATIC_TOKEN = 'fake-static-token';
export const USER_DATA = '#cloud-config\nruncmd:\n  - echo canary-userdata-4f1d9e\n';

export const BASE_SPEC = {
  region: REGION,
  machineType: 'c2i.2',
  imageId: '0b5f7e4c-1b7a-4c1e-9b65-2d0c9c1e7a11',
  networking: { networkId: '7c1d3e2f-5a6b-4c8d-9e0f-1a2b3c4d5e6f' },
};

export interface HarnessOptions {
  fake?: StackitFakeOptions;
  timings?: Partial<DriverTimings>;
  retry?: Partial<RetryPolicy>;
  httpTimeoutMs?: number;
  /** Put Prism (proxy, --errors) between the adapter and the fake; default true. */
  prism?: boolean;
}

/**
 * The real thing on loopback: the stateful STACKIT fake, Prism validating
 * every request and response against the spec, the sidecar's gRPC server and
 * the gRPC client the bridge's calls look like. Log lines are captured so a
 * test can look for secrets in them.
 */
export class StackitHarness {
  get logs(): string[] {
    return this.capture.lines;
  }
  private readonly capture = new LogCapture();

  private constructor(
    readonly fake: StackitFake,
    readonly prism: PrismProcess | undefined,
    readonly sidecar: Sidecar,
    readonly client: DriverServiceClient,
  ) {}

  static async start(options: HarnessOptions = {}): Promise<StackitHarness> {
    const fake = await startStackitFake({ activeAfterMs: 100, deleteAfterMs: 100, ...options.fake });
    const prism = options.prism === false ? undefined : await startPrismProxy(STACKIT_SPEC, fake.url);
    const driver = new MachineDriver(
      defaultProviders({
        httpTimeoutMs: options.httpTimeoutMs ?? 5_000,
        retry: { baseDelayMs: 5, maxDelayMs: 20, ...options.retry },
        stackit: { iaasEndpoint: prism?.url ?? fake.url, tokenEndpoint: fake.tokenUrl },
      }),
      { pollIntervalMs: 50, createTimeoutMs: 10_000, deleteTimeoutMs: 10_000, ...options.timings },
    );
    const sidecar = await startSidecar({ listen: '127.0.0.1:0', httpListen: '127.0.0.1:0', driver, shutdownGraceMs: 2_000 });
    const h = new StackitHarness(fake, prism, sidecar, new DriverServiceClient(sidecar.grpcTarget));
    return h;
  }

  secretData(overrides: Record<string, string | undefined> = {}): Record<string, Buffer> {
    const plain: Record<string, string | undefined> = { 'project-id': PROJECT_ID, token: STATIC_TOKEN, userData: USER_DATA, ...overrides };
    return Object.fromEntries(Object.entries(plain).filter(([, v]) => v !== undefined).map(([k, v]) => [k, Buffer.from(v!)]));
  }

  machineClass(spec: object = BASE_SPEC, extra: { name?: string; namespace?: string; provider?: string } = {}): Buffer {
    return Buffer.from(
      JSON.stringify({
        metadata: { name: extra.name ?? CLASS_NAME, namespace: extra.namespace ?? NAMESPACE },
        provider: extra.provider ?? 'STACKIT',
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


  async close(): Promise<void> {
    this.capture.stop();
    this.client.close();
    await this.sidecar.shutdown();
    await this.prism?.close();
    await this.fake.close();
  }
}
