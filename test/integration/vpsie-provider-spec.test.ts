import { MachineCode } from '../../src/driver/codes.js';
import { callError } from '../support/call-error.js';
import { BASE_SPEC, CLASS_NAME, NAMESPACE, USER_DATA, VpsieHarness, type Status } from '../support/vpsie-harness.js';

/** Every providerSpec field: accepted values reach the request body as the API wants them; bad ones are refused before any request. */

let h: VpsieHarness;
beforeAll(async () => {
  h = await VpsieHarness.start();
});
afterAll(async () => {
  await h.close();
});
beforeEach(() => h.fake.reset());

const markerLine = (name: string) => `mcm-grpc-driver: cluster=${NAMESPACE} class=${CLASS_NAME} machine=${name}`;

test('every providerSpec field reaches the create (or delete) request body, as the API wants it', async () => {
  const own = h.fake.seedScript({ name: 'ops-bootstrap', script: '#!/bin/bash\necho ops\n' });
  const spec = {
    projectId: '4242',
    dcIdentifier: 'dc-ny-1',
    resourceIdentifier: 'plan-8c-16g',
    osIdentifier: 'ubuntu-24-04',
    sshKeyIdentifier: 'key-ops-1',
    scriptIdentifier: own.identifier,
    userDataDelivery: 'userData',
    tags: ['team:platform', 'env=prod'],
    notes: 'worker pool z1',
    addPublicIpV4: true,
    addPublicIpV6: false,
    addPrivateIp: true,
    backupEnabled: false,
    weeklyBackupEnabled: true,
    monthlyBackupEnabled: false,
    ssd: 80,
    deleteReason: 'scaled down by MCM',
    discovery: { timeout: '20m', recreateAfterTimeout: false },
  };
  const name = 'alpha-worker-z1-full';
  const created = await h.client.call<Status>('CreateMachine', h.request(name, { spec }));
  expect(h.createRequests()[0]!.body).toEqual({
    projectId: '4242',
    dcIdentifier: 'dc-ny-1',
    resourceIdentifier: 'plan-8c-16g',
    osIdentifier: 'ubuntu-24-04',
    hostname: name,
    sshKeyIdentifier: 'key-ops-1',
    scriptIdentifier: own.identifier,
    userData: Buffer.from(USER_DATA).toString('base64'),
    tags: ['team:platform', 'env=prod', `mcm-cluster:${NAMESPACE}`, `mcm-class:${CLASS_NAME}`, `mcm-machine:${name}`],
    notes: `${markerLine(name)};\nworker pool z1`,
    // This harness sends VM calls to /apps/v2, which takes numbers (terraform-provider-vpsie, cluster-api-provider-vpsie);
    // /api/v2 takes strings (vpsie-fidelity.test.ts).
    addPublicIpV4: 1,
    addPublicIpV6: 0,
    addPrivateIp: 1,
    backupEnabled: 0,
    weeklyBackupEnabled: 1,
    monthlyBackupEnabled: 0,
    ssd: 80,
  });
  // The VM took the numbers (the fake honours only numbers on /apps/v2, only strings on /api/v2).
  expect(h.liveVms()[0]!.flags).toEqual({ addPublicIpV4: '1', addPublicIpV6: '0', addPrivateIp: '1', backupEnabled: '0', weeklyBackupEnabled: '1', monthlyBackupEnabled: '0' });
  // deleteReason goes into the delete call; discovery stays in the driver.
  await h.client.call('DeleteMachine', h.request(name, { spec, providerID: created.providerId }));
  const del = h.fake.requests.find((r) => r.method === 'DELETE' && r.path === '/apps/v2/vm')!;
  expect(del.body).toMatchObject({ deleteStatistic: { reason: 'scaled down by MCM' } });
});

test('the smallest providerSpec: the four required fields; flags left to VPSie', async () => {
  await h.client.call('CreateMachine', h.request('alpha-worker-z1-min', { spec: BASE_SPEC }));
  const body = h.createRequests()[0]!.body as Record<string, unknown>;
  for (const flag of ['addPublicIpV4', 'addPublicIpV6', 'addPrivateIp', 'backupEnabled', 'weeklyBackupEnabled', 'monthlyBackupEnabled', 'ssd', 'sshKeyIdentifier', 'userData']) {
    expect(body).not.toHaveProperty(flag);
  }
  expect(body.notes).toBe(`${markerLine('alpha-worker-z1-min')};`);
});

/** [field, invalid value, the text the error must contain] */
const INVALID: Array<[string, unknown, string]> = [
  ['projectId', 0, 'providerSpec.projectId'],
  ['projectId', 'has space', 'providerSpec.projectId'],
  ['projectId', 1.5, 'providerSpec.projectId'],
  ['dcIdentifier', '', 'providerSpec.dcIdentifier'],
  ['dcIdentifier', 'dc ny', 'providerSpec.dcIdentifier'],
  ['resourceIdentifier', '-plan', 'providerSpec.resourceIdentifier'],
  ['osIdentifier', 5, 'providerSpec.osIdentifier'],
  ['sshKeyIdentifier', 'a/b', 'providerSpec.sshKeyIdentifier'],
  ['scriptIdentifier', 'script-1', 'scriptIdentifier takes the place of the per-Machine boot script'],
  ['userDataDelivery', 'cloud-init', 'providerSpec.userDataDelivery'],
  ['tags', 'team:platform', 'providerSpec.tags'],
  ['tags', ['mcm-cluster:evil'], 'providerSpec.tags(0)'],
  ['tags', ['has space'], 'providerSpec.tags(0)'],
  ['tags', ['a', 'a'], 'providerSpec.tags'],
  ['tags', Array.from({ length: 21 }, (_, i) => `t${i}`), 'providerSpec.tags'],
  ['notes', 'x'.repeat(1001), 'providerSpec.notes'],
  ['notes', 'mcm-grpc-driver: cluster=a class=b machine=c', 'providerSpec.notes'],
  ['addPublicIpV4', 1, 'providerSpec.addPublicIpV4'],
  ['addPublicIpV6', '1', 'providerSpec.addPublicIpV6'],
  ['addPrivateIp', 'yes', 'providerSpec.addPrivateIp'],
  ['backupEnabled', 0, 'providerSpec.backupEnabled'],
  ['weeklyBackupEnabled', null, 'providerSpec.weeklyBackupEnabled'],
  ['monthlyBackupEnabled', 'false', 'providerSpec.monthlyBackupEnabled'],
  ['ssd', 0, 'providerSpec.ssd'],
  ['ssd', 'big', 'providerSpec.ssd'],
  ['deleteReason', '', 'providerSpec.deleteReason'],
  ['discovery', { timeout: '15 minutes' }, 'providerSpec.discovery.timeout'],
  ['discovery', { timeout: '0s' }, 'providerSpec.discovery.timeout: must be between 1s and 24h'],
  ['discovery', { timeout: '25h' }, 'providerSpec.discovery.timeout: must be between 1s and 24h'],
  ['discovery', { recreateAfterTimeout: 'yes' }, 'providerSpec.discovery.recreateAfterTimeout'],
  ['discovery', { recreate: true }, 'unknown field "recreate"'],
  ['hostname', 'my-vm', 'unknown field "hostname"'],
];

test.each(INVALID)('invalid %s (case %#) is refused with InvalidArgument naming it, and nothing is sent', async (field, value, text) => {
  const spec: Record<string, unknown> = { ...BASE_SPEC, [field]: value };
  const err = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-bad', { spec })));
  expect(err.code).toBe(MachineCode.InvalidArgument);
  expect(err.details).toContain(text);
  expect(err.details).not.toMatch(/[[\]]/);
  expect(h.fake.requests).toHaveLength(0);
});

test('all problems of a class and its Secret come back in one InvalidArgument, without a Secret value', async () => {
  const spec = { projectId: -1, dcIdentifier: 'dc ny', osIdentifier: 'ubuntu', tags: ['mcm-x'], discovery: { timeout: 'soon' } };
  const secret = h.secretData({ 'api-token': 'has a space canary-7f', 'account-password': '', 'api-endpoint': 'ftp://vpsie' });
  const err = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-all', { spec, secret })));
  expect(err.code).toBe(MachineCode.InvalidArgument);
  for (const text of [
    'providerSpec.projectId',
    'providerSpec.dcIdentifier',
    'providerSpec.resourceIdentifier: is required',
    'providerSpec.tags(0)',
    'providerSpec.discovery.timeout',
    'secret.api-token',
    'secret.account-password',
    'secret.api-endpoint',
  ]) {
    expect(err.details).toContain(text);
  }
  expect(err.details).not.toContain('canary-7f');
  expect(h.fake.requests).toHaveLength(0);
});

test.each([
  ['x'.repeat(64), 'at most 63'],
  ['Alpha-Worker-z1-up', 'lower-case'],
  ['alpha.worker.z1', 'lower-case'],
  ['alpha_worker_z1', 'lower-case'],
  ['alpha-worker-z1-', 'starting and ending'],
])('a Machine name that cannot be a VPSie hostname (%s) is refused naming machine.metadata.name, before any request', async (name, text) => {
  const err = await callError(h.client.call('CreateMachine', h.request(name)));
  expect(err.code).toBe(MachineCode.InvalidArgument);
  expect(err.details).toContain('machine.metadata.name');
  expect(err.details).toContain(text);
  expect(h.fake.requests).toHaveLength(0);
});

test('a class namespace or name that cannot be a marker is refused', async () => {
  const err = await callError(h.client.call('CreateMachine', { ...h.request('alpha-worker-z1-ns'), machineClass: h.machineClass(BASE_SPEC, { namespace: 'Shoot Garden' }) }));
  expect(err.code).toBe(MachineCode.InvalidArgument);
  expect(err.details).toContain('machineClass.metadata.namespace');
});

test('the provider name matches case-insensitively', async () => {
  for (const provider of ['vpsie', 'VPSIE']) {
    const res = await h.client.call<Status>('CreateMachine', { ...h.request(`alpha-worker-z1-${provider.toLowerCase()}${provider.length}`), machineClass: h.machineClass(BASE_SPEC, { provider }) });
    expect(res.providerId).toMatch(/^vpsie:\/\//);
  }
});
