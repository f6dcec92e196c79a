import { resolve } from 'node:path';
import { MachineDriver, type DriverTimings } from '../../src/driver/machine-driver.js';
import { ProviderRegistry } from '../../src/driver/provider-registry.js';
import type { RetryPolicy } from '../../src/http/retry-policy.js';
import { CloudSigmaProvider, type CloudSigmaProviderOptions } from '../../src/providers/cloudsigma/cloudsigma-provider.js';
import { DriverServiceClient, type DriverCallError } from '../../src/server/driver-client.js';
import { startSidecar, type Sidecar } from '../../src/server/sidecar.js';
import { packageRoot } from '../../src/support/package-root.js';
import { FAKE_PARTNER, LIBRARY_DRIVE, startCloudSigmaFake, type CloudSigmaFake, type CloudSigmaFakeOptions } from '../fakes/cloudsigma/index.js';
import { startPrismProxy, type PrismProcess } from './prism.js';
import { LogCapture } from './log-capture.js';

export const CLOUDSIGMA_SPEC = resolve(packageRoot, 'specs', 'cloudsigma.yaml');
export const NAMESPACE = 'shoot--garden--alpha';
export const CLASS_NAME = 'alpha-worker-z1';
export const LOCATION = 'zrh';
export const ALICE = 'alice@example.com';
export const BOB = 'bob@example.com';
export const USER_DATA = '#cloud-config\nruncmd:\n  - echo canary-userdata-7c2e41\n';
export { LIBRARY_DRIVE };

export const BASE_SPEC = {
  cpu: 2000,
  memory: '2Gi',
  bootDrive: { source: { libraryDrive: LIBRARY_DRIVE } },
  nics: [{ ipv4: { conf: 'dhcp' } }],
};

export interface HarnessOptions {
  fake?: CloudSigmaFakeOptions;
  timings?: Partial<DriverTimings>;
  provider?: Partial<CloudSigmaProviderOptions>;
  retry?: Partial<RetryPolicy>;
  httpTimeoutMs?: number;
  /** Put Prism (proxy, --errors) between the adapter and the fake's API; default true. */
  prism?: boolean;
}

export type SecretKind = 'basic' | 'token' | 'impersonate';

/**
 * The real thing on loopback: the stateful CloudSigma fake, Prism validating
 * every API request and response against specs/cloudsigma.yaml, the sidecar's
 * gRPC server and the gRPC client the bridge's calls look like. The OAuth and
 * impersonation endpoints are not part of API 2.0 and are called directly.
 */
export class CloudSigmaHarness {
  get logs(): string[] {
    return this.capture.lines;
  }
  private readonly capture = new LogCapture();

  private constructor(
    readonly fake: CloudSigmaFake,
    readonly prism: PrismProcess | undefined,
    readonly sidecar: Sidecar,
    readonly client: DriverServiceClient,
  ) {}

  static async start(options: HarnessOptions = {}): Promise<CloudSigmaHarness> {
    const fake = await startCloudSigmaFake({ cloneAfterMs: 100, runningAfterMs: 100, stoppedAfterMs: 100, ...options.fake });
    const prism = options.prism === false ? undefined : await startPrismProxy(CLOUDSIGMA_SPEC, fake.url);
    const provider = new CloudSigmaProvider({
      apiEndpoint: prism ? `${prism.url}/api/2.0/` : fake.apiUrl,
      oauthEndpoint: fake.oauthUrl,
      impersonationEndpoint: fake.impersonationUrl,
      httpTimeoutMs: options.httpTimeoutMs ?? 5_000,
      retry: { baseDelayMs: 5, maxDelayMs: 20, ...options.retry },
      pollIntervalMs: 50,
      driveReadyTimeoutMs: 10_000,
      stopTimeoutMs: 10_000,
      ...options.provider,
    });
    const driver = new MachineDriver(new ProviderRegistry([provider]), {
      pollIntervalMs: 50,
      createTimeoutMs: 10_000,
      deleteTimeoutMs: 10_000,
      ...options.timings,
    });
    const sidecar = await startSidecar({ listen: '127.0.0.1:0', httpListen: '127.0.0.1:0', driver, shutdownGraceMs: 2_000 });
    const h = new CloudSigmaHarness(fake, prism, sidecar, new DriverServiceClient(sidecar.grpcTarget));
    return h;
  }

  secretData(kind: SecretKind = 'basic', overrides: Record<string, string | undefined> = {}): Record<string, Buffer> {
    const creds: Record<SecretKind, Record<string, string>> = {
      basic: { username: ALICE, password: this.fake.user(ALICE).password! },
      token: { token: this.fake.user(ALICE).tokens![0]! },
      impersonate: { 'oauth-client-id': FAKE_PARTNER.clientId, 'oauth-client-secret': FAKE_PARTNER.clientSecret, 'impersonate-user': ALICE },
    };
    const plain: Record<string, string | undefined> = { location: LOCATION, ...creds[kind], userData: USER_DATA, ...overrides };
    return Object.fromEntries(Object.entries(plain).filter(([, v]) => v !== undefined).map(([k, v]) => [k, Buffer.from(v!)]));
  }

  machineClass(spec: object = BASE_SPEC, extra: { name?: string; namespace?: string; provider?: string } = {}): Buffer {
    return Buffer.from(
      JSON.stringify({
        metadata: { name: extra.name ?? CLASS_NAME, namespace: extra.namespace ?? NAMESPACE },
        provider: extra.provider ?? 'CloudSigma',
        providerSpec: spec,
      }),
    );
  }

  machine(name: string, providerID = '', lastKnownState = '', namespace = NAMESPACE): Buffer {
    return Buffer.from(
      JSON.stringify({
        metadata: { name, namespace },
        spec: { providerID, class: { kind: 'MachineClass', name: CLASS_NAME } },
        status: lastKnownState ? { lastKnownState } : {},
      }),
    );
  }

  /** A request of CreateMachine, InitializeMachine, DeleteMachine or GetMachineStatus. */
  request(
    name: string,
    opts: { providerID?: string; lastKnownState?: string; spec?: object; secret?: Record<string, Buffer>; classBytes?: Buffer; namespace?: string } = {},
  ) {
    return {
      machine: this.machine(name, opts.providerID, opts.lastKnownState, opts.namespace),
      machineClass: opts.classBytes ?? this.machineClass(opts.spec, { namespace: opts.namespace }),
      secretData: opts.secret ?? this.secretData(),
    };
  }

  listRequest(opts: { spec?: object; classBytes?: Buffer; secret?: Record<string, Buffer> } = {}) {
    return { machineClass: opts.classBytes ?? this.machineClass(opts.spec), secretData: opts.secret ?? this.secretData() };
  }

  /** Servers of a user. */
  serversOf(email = ALICE) {
    const uuid = this.fake.user(email).uuid;
    return this.fake.servers().filter((s) => s.owner === uuid);
  }

  /** The account drives (not library drives) of a user. */
  drivesOf(email = ALICE) {
    const uuid = this.fake.user(email).uuid;
    return this.fake.drives().filter((d) => d.owner === uuid);
  }

  apiRequests(method?: string, path?: RegExp, query?: Record<string, string>) {
    return this.fake.requests.filter(
      (r) =>
        r.path.startsWith('/api/2.0/') &&
        (method === undefined || r.method === method) &&
        (path === undefined || path.test(r.path)) &&
        Object.entries(query ?? {}).every(([k, v]) => r.query[k] === v),
    );
  }

  createRequests() {
    return this.apiRequests('POST', /^\/api\/2\.0\/servers\/$/);
  }

  cloneRequests() {
    return this.apiRequests('POST', /\/action\/$/, { do: 'clone' });
  }


  async close(): Promise<void> {
    this.capture.stop();
    this.client.close();
    await this.sidecar.shutdown();
    await this.prism?.close();
    await this.fake.close();
  }
}

export async function waitFor(probe: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

export { callError } from './call-error.js';

export type Status = { providerId: string; nodeName: string; addresses: Array<{ type: string; address: string }> };

/** The leftovers a failed CreateMachine names in its lastKnownState. */
export function leftoversOf(err: DriverCallError): { providerId?: string; cloudsigma?: { location: string; step: string; leftServers: string[]; leftDrives: string[] } } {
  return JSON.parse(String(err.response?.lastKnownState || '{}')) as ReturnType<typeof leftoversOf>;
}
