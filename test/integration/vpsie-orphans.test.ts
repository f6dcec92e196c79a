import { MachineCode } from '../../src/driver/codes.js';
import { callError } from '../support/call-error.js';
import { BASE_SPEC, CLASS_NAME, NAMESPACE, PROJECT_ID, VpsieHarness, type Status } from '../support/vpsie-harness.js';

/**
 * Orphan collection is safety-critical: ListMachines lists a VM only when its
 * notes markers name this cluster and this class and its hostname is the
 * Machine the markers name; a foreign VM with a similar (or the same)
 * hostname is never adopted, listed or deleted.
 */

let h: VpsieHarness;
beforeAll(async () => {
  h = await VpsieHarness.start();
});
afterAll(async () => {
  await h.close();
});
beforeEach(() => h.fake.reset());

const notes = (machine: string, cls = CLASS_NAME, ns = NAMESPACE) => `mcm-grpc-driver: cluster=${ns} class=${cls} machine=${machine}`;
const ours = (hostname: string) => h.fake.seedVm({ hostname, projectId: PROJECT_ID, notes: notes(hostname) });

function seedForeign() {
  const seed = (hostname: string, n: string | undefined, projectId: string | number = PROJECT_ID) => h.fake.seedVm({ hostname, projectId, notes: n });
  return [
    seed('alpha-worker-z1-abc12', notes('alpha-worker-z1-abc12', CLASS_NAME, 'shoot--garden--beta')), // other cluster, same hostname
    seed('alpha-worker-z2-x', notes('alpha-worker-z2-x', 'alpha-worker-z2')), // other class
    seed('alpha-worker-z1-hand', undefined), // made by hand, no markers
    seed('alpha-worker-z1-hand2', 'team: platform'), // notes without markers
    seed('alpha-worker-z1-abc12-x', notes('alpha-worker-z1-abc12')), // similar hostname claiming our Machine
    seed('alpha-worker-z1-abc1', notes('alpha-worker-z1-abc12')), // prefix of the Machine name claiming it
    seed('alpha-worker-z1-twice', `${notes('alpha-worker-z1-twice')}\n${notes('alpha-worker-z1-twice')}`), // two marker lines
    seed('alpha-worker-z1-partial', `mcm-grpc-driver: cluster=${NAMESPACE} class=${CLASS_NAME}`), // incomplete
    seed('ALPHA-WORKER-Z1-ABC12', notes('alpha-worker-z1-abc12')), // other case
    seed('alpha-worker-z1-other-project', notes('alpha-worker-z1-other-project'), 999), // other project
  ];
}

test('ListMachines lists only this cluster’s and this class’s VMs whose hostname is the Machine they name', async () => {
  seedForeign();
  const mine = ours('alpha-worker-z1-orphan');
  const gone = ours('alpha-worker-z1-gone');
  h.fake.patchVm(gone.identifier, { is_deleted: 1 });
  const list = await h.client.call<{ machineList: Record<string, string> }>('ListMachines', h.listRequest());
  expect(list.machineList).toEqual({ [`vpsie://${mine.identifier}`]: 'alpha-worker-z1-orphan' });
});

test('a foreign VM with a similar hostname is never adopted: CreateMachine makes the Machine’s own VM', async () => {
  const foreign = seedForeign();
  const name = 'alpha-worker-z1-abc12';
  // The exact hostname belongs to another cluster: refused below. A Machine with a similar name gets its own VM.
  const similar = 'alpha-worker-z1-abc12x';
  const created = await h.create(similar);
  expect(foreign.map((f) => `vpsie://${f.identifier}`)).not.toContain(created.providerId);
  expect(h.createRequests()).toHaveLength(1);
  const status = await h.client.call<Status>('GetMachineStatus', h.request(similar));
  expect(status.providerId).toBe(created.providerId);

  const notFound = await callError(h.client.call('GetMachineStatus', h.request('alpha-worker-z1-abc1')));
  expect(notFound.code).toBe(MachineCode.NotFound);
  const stillNotOurs = await callError(h.client.call('GetMachineStatus', h.request(name)));
  expect(stillNotOurs.code).toBe(MachineCode.NotFound);
});

test('the exact hostname taken by a foreign VM: never adopted or touched; the Machine gets its own VM with our markers', async () => {
  // No adapter refuses a taken name any more (issue 12: no provider holds adoption rules): MachineDriver finds no VM
  // carrying the Machine's markers and creates one; the foreign VM is never adopted, listed or deleted.
  const [otherCluster] = seedForeign();
  const created = await h.create('alpha-worker-z1-abc12');
  expect(created.providerId).not.toBe(`vpsie://${otherCluster!.identifier}`);
  expect(h.createRequests()).toHaveLength(1);
  expect(h.fake.vms().find((v) => v.identifier === otherCluster!.identifier)?.phase).toBe('running');
  await h.client.call('DeleteMachine', h.request('alpha-worker-z1-abc12'));
  expect(h.fake.vms().find((v) => v.identifier === otherCluster!.identifier)?.phase).toBe('running');
});

test('a foreign pending VM with the Machine’s hostname is not ours: it holds nothing back and is never touched', async () => {
  h.fake.seedPending({ hostname: 'alpha-worker-z1-pf', projectId: PROJECT_ID, tags: ['team:other'] });
  await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-pf'))).catch(() => undefined);
  expect(h.createRequests()).toHaveLength(1);
  expect(h.fake.requests.filter((r) => r.method === 'DELETE')).toHaveLength(0);
});

test('DeleteMachine with the orphan stub deletes exactly the providerID, not the live twin with the same hostname', async () => {
  seedForeign();
  const live = ours('alpha-worker-z1-twin');
  const orphan = ours('alpha-worker-z1-twin');
  const before = h.fake.vms().length;
  const stub = Buffer.from(JSON.stringify({ metadata: { name: 'alpha-worker-z1-twin', namespace: NAMESPACE }, spec: { providerID: `vpsie://${orphan.identifier}` } }));
  await h.client.call('DeleteMachine', { machine: stub, machineClass: h.machineClass(), secretData: h.secretData() });
  const left = h.fake.vms().map((v) => v.identifier);
  expect(left).toHaveLength(before - 1);
  expect(left).toContain(live.identifier);
  expect(left).not.toContain(orphan.identifier);
});

test('DeleteMachine with an empty providerID deletes only this cluster’s VM with the Machine’s hostname', async () => {
  const foreign = seedForeign();
  const mine = ours('alpha-worker-z1-abc12');
  await h.client.call('DeleteMachine', h.request('alpha-worker-z1-abc12'));
  const left = h.fake.vms().map((v) => v.identifier);
  expect(left).not.toContain(mine.identifier);
  for (const f of foreign) expect(left).toContain(f.identifier);
});

test('DeleteMachine of a VM that is already gone is OK; a providerID of another cloud is refused', async () => {
  const res = await h.client.call<{ lastKnownState: string }>('DeleteMachine', h.request('alpha-worker-z1-gone', { providerID: 'vpsie://00000000-0000-4000-8000-000000000000' }));
  expect(res.lastKnownState).toBe('');
  expect(await h.client.call('DeleteMachine', h.request('alpha-worker-z1-never'))).toEqual({ lastKnownState: '' });
  const err = await callError(h.client.call('DeleteMachine', h.request('alpha-worker-z1-aws', { providerID: 'aws:///eu-west-1/i-0123' })));
  expect(err.code).toBe(MachineCode.InvalidArgument);
  expect(h.fake.requests.filter((r) => r.method === 'DELETE' && r.path === '/apps/v2/vm')).toHaveLength(0);
});

test('a class of another provider gets an empty list; a class whose Secret is broken too, without calling VPSie', async () => {
  seedForeign();
  ours('alpha-worker-z1-orphan');
  const other = await h.client.call<{ machineList: Record<string, string> }>('ListMachines', { machineClass: h.machineClass(BASE_SPEC, { provider: 'AWS' }), secretData: h.secretData() });
  expect(other.machineList).toEqual({});
  const broken = await h.client.call<{ machineList: Record<string, string> }>('ListMachines', h.listRequest({ secret: h.secretData({ 'account-password': undefined }) }));
  expect(broken.machineList).toEqual({});
  expect(h.fake.requests).toHaveLength(0);
});

test('providerIDs are byte-identical in CreateMachine, GetMachineStatus and ListMachines', async () => {
  const created = await h.create('alpha-worker-z1-bytes');
  const byId = await h.client.call<Status>('GetMachineStatus', h.request('alpha-worker-z1-bytes', { providerID: created.providerId }));
  const byName = await h.client.call<Status>('GetMachineStatus', h.request('alpha-worker-z1-bytes'));
  const list = await h.client.call<{ machineList: Record<string, string> }>('ListMachines', h.listRequest());
  expect(byId.providerId).toBe(created.providerId);
  expect(byName.providerId).toBe(created.providerId);
  expect(Object.keys(list.machineList)).toEqual([created.providerId]);
});
