import { MachineCode } from '../../src/driver/codes.js';
import { BASE_SPEC, StackitHarness } from '../support/stackit-harness.js';
import { callError } from '../support/call-error.js';

const UUID1 = '11111111-2222-4333-8444-555555555555';
const UUID2 = '66666666-7777-4888-9999-aaaaaaaaaaaa';

/** Every writable CreateServerPayload field, each with a value the API accepts. */
const FULL_SPEC = {
  region: 'eu01',
  machineType: 'c2i.4',
  imageId: UUID1,
  labels: { team: 'platform', 'cost-center': 'k8s.nodes' },
  networking: { nicIds: [UUID2] },
  securityGroups: ['default', 'sg-nodes'],
  bootVolume: { size: 64, performanceClass: 'storage_premium_perf6', deleteOnTermination: false, source: { type: 'image', id: UUID1 } },
  volumes: [UUID2],
  keypairName: 'ops@example.org',
  availabilityZone: 'eu01-2',
  affinityGroup: UUID2,
  serviceAccountMails: ['nodes@sa.stackit.cloud'],
  agent: { provisioned: true },
  configDrive: true,
  metadata: { 'purpose': 'worker', 'gardener.cloud:pool': 'z1' },
};

/** [field, invalid value, the path the error must name] */
const INVALID: Array<[string, unknown, string]> = [
  ['region', 'EU-01', 'providerSpec.region'],
  ['machineType', 'c2i 4 !', 'providerSpec.machineType'],
  ['imageId', 'not-a-uuid', 'providerSpec.imageId'],
  ['labels', { 'stackit-reserved': 'x' }, 'providerSpec.labels'],
  ['labels', { ok: 'value with spaces' }, 'providerSpec.labels.ok'],
  ['networking', { networkId: UUID1, nicIds: [UUID2] }, 'providerSpec.networking'],
  ['networking', { networkId: 'nope' }, 'providerSpec.networking.networkId'],
  ['securityGroups', 'default', 'providerSpec.securityGroups'],
  ['bootVolume', { size: 0, source: { type: 'image', id: UUID1 } }, 'providerSpec.bootVolume.size'],
  ['bootVolume', { size: 10, source: { type: 'backup', id: UUID1 } }, 'providerSpec.bootVolume.source.type'],
  ['bootVolume', { deleteOnTermination: true, source: { type: 'volume', id: UUID1 } }, 'providerSpec.bootVolume'],
  ['volumes', ['x'], 'providerSpec.volumes(0)'],
  ['keypairName', 'has space', 'providerSpec.keypairName'],
  ['availabilityZone', 'EU01 1', 'providerSpec.availabilityZone'],
  ['affinityGroup', 'group-1', 'providerSpec.affinityGroup'],
  ['serviceAccountMails', ['a@sa.stackit.cloud', 'b@sa.stackit.cloud'], 'providerSpec.serviceAccountMails'],
  ['serviceAccountMails', ['Not An Email'], 'providerSpec.serviceAccountMails(0)'],
  ['agent', { provisioned: 'yes' }, 'providerSpec.agent.provisioned'],
  ['configDrive', 'true', 'providerSpec.configDrive'],
  ['metadata', { key: 5 }, 'providerSpec.metadata.key'],
  ['allowedAddresses', ['10.0.0.0/33x'], 'providerSpec.allowedAddresses(0)'],
  ['labels', { 'Not_A_Domain/cluster': 'x' }, 'providerSpec.labels'],
  ['userData', 42, 'providerSpec.userData'],
  ['machineTyp', 'c2i.2', 'unknown field "machineTyp"'],
];

let h: StackitHarness;
beforeAll(async () => {
  h = await StackitHarness.start();
});
afterAll(async () => {
  await h.close();
});
beforeEach(() => h.fake.reset());

test('every providerSpec field reaches the create request body, as the API wants it', async () => {
  await h.client.call('CreateMachine', h.request('alpha-worker-z1-full', { spec: FULL_SPEC }));
  const body = h.createRequests()[0]!.body as Record<string, unknown>;
  const { region: _region, labels, ...rest } = FULL_SPEC;
  expect(body).toMatchObject(rest);
  expect(body.labels).toMatchObject(labels);
  expect(body).not.toHaveProperty('region');
  expect(body.name).toBe('alpha-worker-z1-full');
  expect(typeof body.userData).toBe('string');
});

test('an image-sourced boot volume defaults to deleteOnTermination=true; a volume-sourced one is left alone', async () => {
  await h.client.call('CreateMachine', h.request('alpha-worker-z1-bv1', { spec: { ...BASE_SPEC, bootVolume: { size: 20, source: { type: 'image', id: UUID1 } } } }));
  await h.client.call('CreateMachine', h.request('alpha-worker-z1-bv2', { spec: { ...BASE_SPEC, imageId: undefined, bootVolume: { source: { type: 'volume', id: UUID2 } } } }));
  const [img, vol] = h.createRequests().map((r) => (r.body as { bootVolume: Record<string, unknown> }).bootVolume);
  expect(img).toMatchObject({ deleteOnTermination: true, size: 20 });
  expect(vol).not.toHaveProperty('deleteOnTermination');
  // With deleteOnTermination the fake removes the boot volume with the server: no leaked volume per node roll.
  const status = await h.client.call<{ providerId: string }>('GetMachineStatus', h.request('alpha-worker-z1-bv1'));
  await h.client.call('DeleteMachine', h.request('alpha-worker-z1-bv1', { providerID: status.providerId }));
  expect(h.fake.volumes().filter((v) => v.size === 20)).toHaveLength(0);
});

test.each(INVALID)('invalid %s is refused with InvalidArgument naming it, and nothing is sent', async (field, value, path) => {
  const spec: Record<string, unknown> = { ...BASE_SPEC, [field]: value };
  const err = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-bad', { spec })));
  expect(err.code).toBe(MachineCode.InvalidArgument);
  expect(err.details).toContain(path);
  expect(err.details).not.toMatch(/[[\]]/);
  expect(h.fake.requests).toHaveLength(0);
});

test('all problems of a class and its Secret come back in one InvalidArgument', async () => {
  const spec = { region: 'EU', machineTyp: 'x', networking: {}, bootVolume: { size: -1, source: { type: 'image', id: 'x' } }, serviceAccountMails: ['a@b.cd', 'c@d.ef'] };
  const err = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-all', { spec, secret: h.secretData({ 'project-id': 'nope', token: undefined }) })));
  expect(err.code).toBe(MachineCode.InvalidArgument);
  for (const path of [
    'providerSpec.region',
    'providerSpec.machineType: is required',
    'unknown field "machineTyp"',
    'providerSpec.networking',
    'providerSpec.bootVolume.size',
    'providerSpec.bootVolume.source.id',
    'providerSpec.serviceAccountMails',
    'secret.project-id',
    'serviceaccount.json (key flow) or token',
  ]) {
    expect(err.details).toContain(path);
  }
});

test('the Secret value of a bad key never appears in the error', async () => {
  const err = await callError(
    h.client.call('CreateMachine', h.request('alpha-worker-z1-sec', { secret: h.secretData({ 'serviceaccount.json': '{"credentials": "canary-sa-key-2b7e"}' }) })),
  );
  expect(err.code).toBe(MachineCode.InvalidArgument);
  expect(err.details).toContain('secret');
  expect(err.details).not.toContain('canary-sa-key-2b7e');
  expect(err.details).not.toContain('fake-static-token');
});

test('a Machine name that cannot be a server name is refused before any create', async () => {
  const err = await callError(h.client.call('CreateMachine', h.request('x'.repeat(70))));
  expect(err.code).toBe(MachineCode.InvalidArgument);
  expect(err.details).toContain('machine.metadata.name');
  expect(h.createRequests()).toHaveLength(0);
});

test('a request that is not JSON says which field', async () => {
  const err = await callError(h.client.call('CreateMachine', { machine: Buffer.from('{oops'), machineClass: Buffer.from('[]'), secretData: {} }));
  expect(err.code).toBe(MachineCode.InvalidArgument);
  expect(err.details).toContain('machine: is not valid JSON');
  expect(err.details).toContain('machineClass: must be a JSON object');
});

test('an unknown provider is InvalidArgument for machine calls', async () => {
  const err = await callError(h.client.call('CreateMachine', { ...h.request('alpha-worker-z1-aws'), machineClass: h.machineClass(BASE_SPEC, { provider: 'AWS' }) }));
  expect(err.code).toBe(MachineCode.InvalidArgument);
  expect(err.details).toContain('machineClass.provider');
});

test('the provider name matches case-insensitively', async () => {
  const res = await h.client.call<{ providerId: string }>('CreateMachine', { ...h.request('alpha-worker-z1-case'), machineClass: h.machineClass(BASE_SPEC, { provider: 'stackit' }) });
  expect(res.providerId).toMatch(/^stackit:\/\//);
});
