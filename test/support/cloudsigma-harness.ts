import { resolve } from 'node:path';
import { MachineDriver } from '../../src/driver/machine-driver.js';
import { ProviderRegistry } from '../../src/driver/provider-registry.js';
import { CloudSigmaProvider, type CloudSigmaProviderOptions } from '../../src/providers/cloudsigma/cloudsigma-provider.js';
import type { DriverCallError } from '../../src/server/driver-client.js';
import { packageRoot } from '../../src/support/package-root.js';
import { FAKE_PARTNER, LIBRARY_DRIVE, startCloudSigmaFake, type CloudSigmaFake, type CloudSigmaFakeOptions } from '../fakes/cloudsigma/index.js';
import { CLOUDSIGMA_ACCOUNT, CLOUDSIGMA_TEST, TEST_MACHINES } from './clouds/index.js';
import { LoopbackHarness, type DriverSettings, type LoopbackCloud } from './loopback-harness.js';

export const CLOUDSIGMA_SPEC = resolve(packageRoot, CLOUDSIGMA_TEST.specFile);
// The account and Machine every CloudSigma test uses: test/support/clouds (one descriptor per cloud).
export const NAMESPACE = TEST_MACHINES.namespace;
export const CLASS_NAME = TEST_MACHINES.className;
export const LOCATION = CLOUDSIGMA_ACCOUNT.location;
export const ALICE = CLOUDSIGMA_ACCOUNT.alice.email;
export const BOB = CLOUDSIGMA_ACCOUNT.bob.email;
export const USER_DATA = '#cloud-config\nruncmd:\n  - echo canary-userdata-7c2e41\n';
export { LIBRARY_DRIVE };

export const BASE_SPEC = {
  cpu: 2000,
  memory: '2Gi',
  bootDrive: { source: { libraryDrive: LIBRARY_DRIVE } },
  nics: [{ ipv4: { conf: 'dhcp' } }],
};

export interface HarnessOptions extends DriverSettings<CloudSigmaProviderOptions> {
  fake?: CloudSigmaFakeOptions;
  /** Put Prism (proxy, --errors) between the adapter and the fake's API; default true. */
  prism?: boolean;
}

export type SecretKind = 'basic' | 'token' | 'impersonate';

const CLOUDSIGMA: LoopbackCloud<CloudSigmaFake, CloudSigmaProviderOptions> = {
  spec: CLOUDSIGMA_SPEC,
  upstream: (fake) => fake.url,
  driver: (fake, apiBase, s) => {
    const provider = new CloudSigmaProvider({
      // Prism serves the API under the same paths as the fake: base + /api/2.0/.
      apiEndpoint: `${apiBase}/api/2.0/`,
      oauthEndpoint: fake.oauthUrl,
      impersonationEndpoint: fake.impersonationUrl,
      httpTimeoutMs: s.httpTimeoutMs,
      retry: s.retry,
      ...s.provider,
    });
    return new MachineDriver(new ProviderRegistry([provider]), s.timings);
  },
};

/**
 * The real thing on loopback (loopback-harness.ts): the stateful CloudSigma fake, Prism validating
 * every API request and response against specs/cloudsigma.yaml, the sidecar's gRPC server and the
 * gRPC client the bridge's calls look like. The OAuth and impersonation endpoints are not part of
 * API 2.0 and are called directly.
 */
export class CloudSigmaHarness extends LoopbackHarness<CloudSigmaFake, CloudSigmaProviderOptions> {
  static async start(options: HarnessOptions = {}): Promise<CloudSigmaHarness> {
    const fake = await startCloudSigmaFake({ cloneAfterMs: 100, runningAfterMs: 100, stoppedAfterMs: 100, ...options.fake });
    const b = await LoopbackHarness.boot(CLOUDSIGMA, fake, options);
    return new CloudSigmaHarness(b.fake, b.prism, b.cloud, b.defaults, b.first);
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
        provider: extra.provider ?? CLOUDSIGMA_TEST.provider,
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
