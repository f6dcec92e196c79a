import { CloudHttpClient } from '../../src/http/cloud-http-client.js';
import { StaticToken } from '../../src/providers/stackit/access-token.js';
import { IaasClient } from '../../src/providers/stackit/iaas-client.js';
import { createServerPayload, toVmRecord } from '../../src/providers/stackit/mapping.js';
import { labelSelector } from '../../src/providers/stackit/markers.js';
import { STACKIT_SPEC, startPrismMock, type PrismProcess } from '../support/prism.js';
import { PROJECT_ID, REGION } from '../support/stackit-harness.js';

/**
 * Contract tests of single adapter calls against stateless Prism mock mode:
 * Prism checks each request the adapter builds against the spec (422 if it
 * does not match) and answers from the spec's examples, which the adapter must
 * read. The stateful flows are in the other stackit-* suites.
 */
let mock: PrismProcess;
let iaas: IaasClient;
const signal = new AbortController().signal;
const SERVER = '11111111-2222-4333-8444-555555555555';

beforeAll(async () => {
  mock = await startPrismMock(STACKIT_SPEC);
  const token = new StaticToken('contract-token');
  const http = new CloudHttpClient({ cloud: 'stackit', baseUrl: mock.url, retry: { limit: 0 }, authorize: () => token.authorization() });
  iaas = new IaasClient(http, PROJECT_ID, REGION);
});
afterAll(async () => {
  await mock?.close();
});

test('create server: the full payload is valid for the spec and the answer is read', async () => {
  const payload = createServerPayload(
    {
      region: REGION,
      machineType: 'c2i.2',
      networking: { networkId: '7c1d3e2f-5a6b-4c8d-9e0f-1a2b3c4d5e6f' },
      bootVolume: { size: 20, performanceClass: 'storage_premium_perf1', source: { type: 'image', id: SERVER } },
      labels: { team: 'a' },
      securityGroups: ['default'],
      volumes: [SERVER],
      keypairName: 'key',
      availabilityZone: 'eu01-1',
      affinityGroup: SERVER,
      serviceAccountMails: ['a@sa.stackit.cloud'],
      agent: { provisioned: false },
      configDrive: true,
      metadata: { k: 'v' },
    },
    { name: 'machine-1', namespace: 'ns', providerId: '', lastKnownState: '' },
    { name: 'cls', namespace: 'ns', provider: 'STACKIT', providerSpec: {} },
    Buffer.from('#cloud-config'),
  );
  const server = await iaas.createServer(payload, signal);
  expect(server.id).toMatch(/^[0-9a-f-]{36}$/);
  expect(toVmRecord(server, PROJECT_ID).providerId).toBe(`stackit://${PROJECT_ID}/${server.id}`);
});

test('get server with details', async () => {
  const server = await iaas.getServer(SERVER, signal);
  expect(server?.name).toEqual(expect.any(String));
});

test('list servers with a label selector', async () => {
  const servers = await iaas.listServers(labelSelector({ 'kubernetes.io/machineclass': 'cls', 'mcm-grpc-driver.io/cluster': 'ns' }), signal);
  expect(Array.isArray(servers)).toBe(true);
});

test('delete server', async () => {
  await expect(iaas.deleteServer(SERVER, signal)).resolves.toBeUndefined();
});

test('a payload the spec forbids is refused by Prism (proves the check is live)', async () => {
  const bad = { name: 'machine-1', machineType: 'c2i.2', labels: {}, networking: { networkId: 'not-a-uuid' }, serviceAccountMails: ['a@sa.stackit.cloud', 'b@sa.stackit.cloud'] };
  // Mock mode answers an invalid request with the operation's declared 400 (proxy mode says 422).
  await expect(iaas.createServer(bad as never, signal)).rejects.toMatchObject({ status: 400 });
  await expect(iaas.createServer({ ...bad, serviceAccountMails: [], networking: { networkId: SERVER } } as never, signal)).resolves.toMatchObject({ id: expect.any(String) });
});
