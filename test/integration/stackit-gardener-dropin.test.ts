// Issue 11: the MachineClasses Gardener's STACKIT extension renders (fixtures in
// test/fixtures/gardener-stackit, reproducing gardener-extension-provider-stackit
// charts/internal/machineclass-stackit/templates/machineclass.yaml) run unchanged through the
// real gRPC server against the fake, with Prism checking every request and response against
// $STACKIT_SPEC (CI: the vendor's v2 document). Named stackit-* so .ci/run reruns it there.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { validateFiles } from '../../src/cli/validate.js';
import { defaultProviders } from '../../src/providers/index.js';
import { PROJECT_ID, REGION, StackitHarness } from '../support/stackit-harness.js';

const DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../fixtures/gardener-stackit');
const POOLS = ['pool-full.yaml', 'pool-minimal.yaml', 'pool-disk-type-extra-tags.yaml'];

interface Rendered {
  classBytes: Buffer;
  className: string;
  namespace: string;
  providerSpec: { allowedAddresses?: string[] | null; labels: Record<string, string>; networking: { networkId: string }; bootVolume: Record<string, unknown> };
  userData: Buffer;
}

function load(file: string): Rendered {
  const docs = parseAllDocuments(readFileSync(resolve(DIR, file), 'utf8')).map((d) => d.toJS() as Record<string, any>);
  const secret = docs.find((d) => d.kind === 'Secret')!;
  const cls = docs.find((d) => d.kind === 'MachineClass')!;
  return {
    classBytes: Buffer.from(JSON.stringify({ metadata: cls.metadata, provider: cls.provider, providerSpec: cls.providerSpec })),
    className: cls.metadata.name,
    namespace: cls.metadata.namespace,
    providerSpec: cls.providerSpec,
    userData: Buffer.from(secret.data.userData, 'base64'),
  };
}

// The credentials Secret's shape, with a key this test makes and the fake's token endpoint trusts.
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const credentials = parseAllDocuments(readFileSync(resolve(DIR, 'secret-cloudprovider.yaml'), 'utf8'))[0]!.toJS().stringData as Record<string, string>;
const saKey = JSON.parse(credentials['serviceaccount.json']!);
saKey.credentials.privateKey = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

function secretFor(r: Rendered): Record<string, Buffer> {
  // MCM merges the class's secretRef (userData) with its credentialsSecretRef.
  return { 'project-id': Buffer.from(credentials['project-id']!), 'serviceaccount.json': Buffer.from(JSON.stringify(saKey)), userData: r.userData };
}

let h: StackitHarness;
beforeAll(async () => {
  expect(credentials['project-id']).toBe(PROJECT_ID);
  h = await StackitHarness.start({
    fake: { trustedKeys: [{ kid: saKey.credentials.kid, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() }], staticTokens: [] },
  });
});
afterAll(async () => {
  await h.close();
});
beforeEach(() => h.fake.reset());

test('every rendered class and the credentials Secret pass mcm-driver validate', async () => {
  const files = [...POOLS, 'secret-cloudprovider.yaml'].map((f) => resolve(DIR, f));
  expect(await validateFiles(files, defaultProviders())).toEqual([]);
});

const patches = () => h.fake.requests.filter((r) => r.method === 'PATCH' && /\/networks\/[^/]+\/nics\/[^/]+$/.test(r.path));

describe.each(POOLS)('%s', (file) => {
  const r = load(file);
  const wanted = r.providerSpec.allowedAddresses ?? [];
  const req = (name: string, providerID = '') => ({
    machine: Buffer.from(JSON.stringify({ metadata: { name, namespace: r.namespace }, spec: { providerID } })),
    machineClass: r.classBytes,
    secretData: secretFor(r),
  });

  test('create → NIC allowed addresses → list with a Go-provider server → delete', async () => {
    // A server the Go provider made for this class: only its labels (machine, class, and the
    // class's own labels, machine-controller-manager-provider-stackit pkg/provider/create.go).
    const goServer = h.fake.seedServer({
      projectId: PROJECT_ID,
      region: REGION,
      name: `${r.className.slice(0, 40)}-go-1`,
      labels: { 'kubernetes.io/machine': `${r.className.slice(0, 40)}-go-1`, 'kubernetes.io/machineclass': r.className, ...r.providerSpec.labels },
      networking: r.providerSpec.networking,
    });
    // Same class name in another cluster, and one without any cluster marker: never listed.
    const foreign = h.fake.seedServer({
      projectId: PROJECT_ID,
      region: REGION,
      name: 'other-cluster-1',
      labels: { 'kubernetes.io/machine': 'other-cluster-1', 'kubernetes.io/machineclass': r.className, 'kubernetes.io/cluster': 'shoot--garden--beta' },
    });
    const unmarked = h.fake.seedServer({
      projectId: PROJECT_ID,
      region: REGION,
      name: 'unmarked-1',
      labels: { 'kubernetes.io/machine': 'unmarked-1', 'kubernetes.io/machineclass': r.className },
    });

    const name = `${r.className.slice(0, 40)}-new-1`;
    const created = await h.client.call<{ providerId: string; nodeName: string; addresses?: Array<{ address: string }> }>('CreateMachine', req(name));
    const post = h.createRequests()[0]!.body as Record<string, any>;
    // Unset options are not sent (Go's omitempty); set ones are.
    for (const [key, value] of Object.entries(r.providerSpec.bootVolume)) {
      if (key === 'source') continue;
      if (value === null || value === undefined) expect(post.bootVolume).not.toHaveProperty(key);
      else expect(post.bootVolume[key]).toBe(value);
    }
    expect(post).not.toHaveProperty('allowedAddresses');
    expect(post.labels).toMatchObject({ ...r.providerSpec.labels, 'kubernetes.io/machine': name, 'kubernetes.io/machineclass': r.className });
    expect(Buffer.from(post.userData, 'base64').toString()).toBe(r.userData.toString());

    const server = h.fake.servers().find((s) => s.name === name)!;
    const nic = server.nics[0]!;
    expect(nic.allowedAddresses ?? []).toEqual(wanted);
    expect(patches()).toHaveLength(wanted.length > 0 ? 1 : 0);
    expect(created.addresses?.map((a) => a.address)).toContain(nic.ipv4);

    // A retried CreateMachine adopts and patches nothing again.
    await h.client.call('CreateMachine', req(name));
    expect(h.createRequests()).toHaveLength(1);
    expect(patches()).toHaveLength(wanted.length > 0 ? 1 : 0);

    // The Go provider's server is adopted as it is, and gets the CIDRs too.
    const goName = goServer.labels['kubernetes.io/machine']!;
    const adopted = await h.client.call<{ providerId: string }>('CreateMachine', req(goName));
    expect(adopted.providerId).toBe(`stackit://${PROJECT_ID}/${goServer.id}`);
    expect(h.createRequests()).toHaveLength(1);
    expect(h.fake.servers().find((s) => s.id === goServer.id)!.nics[0]!.allowedAddresses ?? []).toEqual(wanted);

    const list = await h.client.call<{ machineList: Record<string, string> }>('ListMachines', { machineClass: r.classBytes, secretData: secretFor(r) });
    expect(list.machineList).toEqual({ [created.providerId]: name, [adopted.providerId]: goName });
    expect(Object.keys(list.machineList).join()).not.toContain(foreign.id);
    expect(Object.keys(list.machineList).join()).not.toContain(unmarked.id);

    await h.client.call('DeleteMachine', req(name, created.providerId));
    await h.client.call('DeleteMachine', req(goName, adopted.providerId));
    const left = h.fake.servers().filter((s) => s.status !== 'DELETING').map((s) => s.id);
    expect(left.sort()).toEqual([foreign.id, unmarked.id].sort());
  });
});

test('only NICs in the configured network are patched, and what they allowed before stays', async () => {
  const r = load('pool-full.yaml');
  const networkId = r.providerSpec.networking.networkId;
  const otherNetwork = '2b3c4d5e-6f70-4a81-9b2c-3d4e5f6a7b8c';
  const name = 'shoot--garden--alpha-full-z1-two-nics';
  const nic = (nicId: string, net: string, ip: string, allowed?: string[]) => ({ nicId, networkId: net, networkName: 'n', mac: 'fa:16:3e:00:00:01', nicSecurity: true, ipv4: ip, allowedAddresses: allowed });
  const seeded = h.fake.seedServer({
    projectId: PROJECT_ID,
    region: REGION,
    name,
    labels: { 'kubernetes.io/machine': name, 'kubernetes.io/machineclass': r.className, ...r.providerSpec.labels },
    networking: { networkId },
    nics: [nic('0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d', networkId, '10.250.0.9', ['10.9.9.9']), nic('1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d', otherNetwork, '192.168.7.9')],
  });
  const status = await h.client.call<{ providerId: string; addresses: Array<{ address: string }> }>('CreateMachine', {
    machine: Buffer.from(JSON.stringify({ metadata: { name, namespace: r.namespace }, spec: { providerID: '' } })),
    machineClass: r.classBytes,
    secretData: secretFor(r),
  });
  expect(status.providerId).toBe(`stackit://${PROJECT_ID}/${seeded.id}`);
  const [inNetwork, elsewhere] = h.fake.servers().find((s) => s.id === seeded.id)!.nics;
  expect(inNetwork!.allowedAddresses).toEqual(['10.9.9.9', ...r.providerSpec.allowedAddresses!]);
  expect(elsewhere!.allowedAddresses).toBeUndefined();
  expect(patches()).toHaveLength(1);
  expect(status.addresses.map((a) => a.address).sort()).toEqual(['10.250.0.9', '192.168.7.9']);
});
