import { MachineCode } from '../../src/driver/codes.js';
import { BASE_SPEC, CLASS_NAME, NAMESPACE, OTHER_PROJECT_ID, PROJECT_ID, REGION, StackitHarness, USER_DATA } from '../support/stackit-harness.js';
import { callError } from '../support/call-error.js';

let h: StackitHarness;

beforeAll(async () => {
  h = await StackitHarness.start();
});
afterAll(async () => {
  await h.close();
});
beforeEach(async () => {
  h.fake.reset();
  await h.useDefaults();
});

type Status = { providerId: string; nodeName: string; addresses: Array<{ type: string; address: string }> };

describe('MCM call order against fake STACKIT behind Prism', () => {
  test('GetMachineStatus NotFound → Create → Initialize → Status OK → List → Delete → Status NotFound', async () => {
    const name = 'alpha-worker-z1-aaaa1';
    const notFound = await callError(h.client.call('GetMachineStatus', h.request(name)));
    expect(notFound.code).toBe(MachineCode.NotFound);

    const created = await h.client.call<Status>('CreateMachine', h.request(name));
    const [server] = h.liveServers();
    expect(h.liveServers()).toHaveLength(1);
    expect(created.providerId).toBe(`stackit://${PROJECT_ID}/${server!.id}`);
    expect(created.nodeName).toBe(name);
    expect(server!.status).toBe('ACTIVE');
    expect(created.addresses).toEqual([{ type: 'InternalIP', address: server!.nics[0]!.ipv4 }]);

    const init = await h.client.call<Status>('InitializeMachine', h.request(name, { providerID: created.providerId }));
    expect(init.providerId).toBe(created.providerId);

    const status = await h.client.call<Status>('GetMachineStatus', h.request(name, { providerID: created.providerId }));
    expect(status).toMatchObject({ providerId: created.providerId, nodeName: name });
    const byName = await h.client.call<Status>('GetMachineStatus', h.request(name));
    expect(byName.providerId).toBe(created.providerId);

    const list = await h.client.call<{ machineList: Record<string, string> }>('ListMachines', h.listRequest());
    expect(list.machineList).toEqual({ [created.providerId]: name });

    const deleted = await h.client.call<{ lastKnownState: string }>('DeleteMachine', h.request(name, { providerID: created.providerId }));
    expect(deleted.lastKnownState).toBe('');
    expect(h.fake.servers()).toHaveLength(0);

    const gone = await callError(h.client.call('GetMachineStatus', h.request(name, { providerID: created.providerId })));
    expect(gone.code).toBe(MachineCode.NotFound);
  });

  test('the server carries the Machine, class and cluster labels and base64 user data', async () => {
    await h.client.call('CreateMachine', h.request('alpha-worker-z1-label'));
    const [server] = h.liveServers();
    expect(server!.name).toBe('alpha-worker-z1-label');
    expect(server!.labels).toEqual({
      'kubernetes.io/machine': 'alpha-worker-z1-label',
      'kubernetes.io/machineclass': CLASS_NAME,
      'mcm-grpc-driver.io/cluster': NAMESPACE,
    });
    const post = h.createRequests()[0]!;
    expect(post.path).toBe(`/v2/projects/${PROJECT_ID}/regions/${REGION}/servers`);
    expect((post.body as { userData: string }).userData).toBe(Buffer.from(USER_DATA).toString('base64'));
  });
});

describe('no duplicate VMs', () => {
  test('a create whose answer is lost adopts the server the cloud made', async () => {
    h.fake.injectFault({ method: 'POST', path: /\/servers$/, afterSuccess: 'drop' });
    const created = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-lost1'));
    expect(h.liveServers()).toHaveLength(1);
    expect(created.providerId).toContain(h.liveServers()[0]!.id);
    expect(h.createRequests()).toHaveLength(1);
  });

  test('a create that times out is not repeated; the next MCM calls find the server by its labels', async () => {
    // The cloud makes the server after the client gave up: the lookup right after the timeout cannot see it yet.
    await h.use({ httpTimeoutMs: 300 });
    h.fake.injectFault({ method: 'POST', path: /\/servers$/, delayMs: 1_000 });
    const first = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-lost2')));
    expect(first.code).toBe(MachineCode.DeadlineExceeded);
    await new Promise((r) => setTimeout(r, 1_200));
    const status = await h.client.call<Status>('GetMachineStatus', h.request('alpha-worker-z1-lost2'));
    expect(status.providerId).toContain(h.liveServers()[0]!.id);
    await h.client.call('CreateMachine', h.request('alpha-worker-z1-lost2'));
    expect(h.liveServers()).toHaveLength(1);
    expect(h.createRequests()).toHaveLength(1);
  });

  test('20 concurrent CreateMachine calls for one Machine make one server', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-race'))));
    expect(new Set(results.map((r) => r.providerId)).size).toBe(1);
    expect(h.liveServers()).toHaveLength(1);
    expect(h.createRequests()).toHaveLength(1);
  });

  test('two servers for one Machine: the oldest is the Machine’s, the younger is removed, nothing is created', async () => {
    const seeded = [new Date(Date.now() - 60_000), new Date(Date.now() - 10 * 60_000)].map((createdAt) =>
      h.fake.seedServer({
        projectId: PROJECT_ID,
        region: REGION,
        name: 'alpha-worker-z1-dup',
        status: 'ACTIVE',
        createdAt: createdAt.toISOString(),
        labels: { 'kubernetes.io/machine': 'alpha-worker-z1-dup', 'kubernetes.io/machineclass': CLASS_NAME, 'mcm-grpc-driver.io/cluster': NAMESPACE },
      }),
    );
    const [younger, older] = seeded.map((s) => (s as { id: string }).id);
    // MCM's orphan sweep skips Machines in phase "" or CrashLoopBackOff: an error here would leave both forever.
    const status = await h.client.call<Status>('GetMachineStatus', h.request('alpha-worker-z1-dup'));
    expect(status.providerId).toContain(older);
    expect(h.fake.requests.filter((r) => r.method === 'DELETE').map((r) => r.path)).toEqual([expect.stringContaining(younger!)]);
    const create = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-dup'));
    expect(create.providerId).toBe(status.providerId);
    expect(h.createRequests()).toHaveLength(0);
    expect(h.liveServers().map((s) => s.id)).toEqual([older]);
  });
});

describe('orphan safety', () => {
  const ours = (name: string, cls = CLASS_NAME, ns = NAMESPACE) => ({
    'kubernetes.io/machine': name,
    'kubernetes.io/machineclass': cls,
    'mcm-grpc-driver.io/cluster': ns,
  });

  function seedForeign() {
    const seed = (name: string, labels: Record<string, string>, projectId = PROJECT_ID) =>
      h.fake.seedServer({ projectId, region: REGION, name, status: 'ACTIVE', labels });
    return [
      seed('other-cluster', ours('alpha-worker-z1-x', CLASS_NAME, 'shoot--garden--beta')),
      seed('other-class', ours('alpha-worker-z2-x', 'alpha-worker-z2')),
      seed('alpha-worker-z1-hand', {}),
      seed('alpha-worker-z1-partial', { 'kubernetes.io/machineclass': CLASS_NAME, 'mcm-grpc-driver.io/cluster': NAMESPACE }),
      seed('alpha-worker-z1-nocluster', { 'kubernetes.io/machine': 'alpha-worker-z1-nocluster', 'kubernetes.io/machineclass': CLASS_NAME }),
      seed('bastion', { 'kubernetes.io/machineclass': `${CLASS_NAME}x`, 'mcm-grpc-driver.io/cluster': NAMESPACE }),
      seed('other-project', ours('alpha-worker-z1-y'), OTHER_PROJECT_ID),
    ];
  }

  test('ListMachines lists only servers of this cluster and class', async () => {
    seedForeign();
    const mine = h.fake.seedServer({ projectId: PROJECT_ID, region: REGION, name: 'alpha-worker-z1-orphan', status: 'ACTIVE', labels: ours('alpha-worker-z1-orphan') });
    const list = await h.client.call<{ machineList: Record<string, string> }>('ListMachines', h.listRequest());
    expect(list.machineList).toEqual({ [`stackit://${PROJECT_ID}/${mine.id}`]: 'alpha-worker-z1-orphan' });
  });

  test('DeleteMachine with the orphan stub deletes exactly the providerID, not the live twin with the same name', async () => {
    seedForeign();
    const live = h.fake.seedServer({ projectId: PROJECT_ID, region: REGION, name: 'alpha-worker-z1-twin', status: 'ACTIVE', labels: ours('alpha-worker-z1-twin') });
    const orphan = h.fake.seedServer({ projectId: PROJECT_ID, region: REGION, name: 'alpha-worker-z1-twin', status: 'ACTIVE', labels: ours('alpha-worker-z1-twin') });
    const before = h.fake.servers().length;
    const stub = Buffer.from(JSON.stringify({ metadata: { name: 'alpha-worker-z1-twin', namespace: NAMESPACE }, spec: { providerID: `stackit://${PROJECT_ID}/${orphan.id}` } }));
    await h.client.call('DeleteMachine', { machine: stub, machineClass: h.machineClass(), secretData: h.secretData() });
    const left = h.fake.servers().map((s) => s.id);
    expect(left).toHaveLength(before - 1);
    expect(left).toContain(live.id);
    expect(left).not.toContain(orphan.id);
  });

  test('DeleteMachine with an empty providerID removes only this cluster’s servers of that Machine', async () => {
    const foreign = seedForeign();
    const mine = h.fake.seedServer({ projectId: PROJECT_ID, region: REGION, name: 'alpha-worker-z1-x', status: 'ACTIVE', labels: ours('alpha-worker-z1-x') });
    await h.client.call('DeleteMachine', h.request('alpha-worker-z1-x'));
    const left = h.fake.servers().map((s) => s.id);
    expect(left).not.toContain(mine.id);
    for (const f of foreign) expect(left).toContain(f.id);
  });

  test('DeleteMachine of a server that is already gone is OK', async () => {
    const res = await h.client.call<{ lastKnownState: string }>('DeleteMachine', h.request('alpha-worker-z1-gone', { providerID: `stackit://${PROJECT_ID}/00000000-0000-4000-8000-000000000000` }));
    expect(res.lastKnownState).toBe('');
    const noId = await h.client.call('DeleteMachine', h.request('alpha-worker-z1-never'));
    expect(noId).toEqual({ lastKnownState: '' });
  });

  test('a providerID of another cloud is refused, nothing is deleted', async () => {
    const err = await callError(h.client.call('DeleteMachine', h.request('alpha-worker-z1-aws', { providerID: 'aws:///eu-west-1/i-0123' })));
    expect(err.code).toBe(MachineCode.InvalidArgument);
    expect(h.fake.requests.filter((r) => r.method === 'DELETE')).toHaveLength(0);
  });

  test('a class of another provider gets an empty list, not an error', async () => {
    seedForeign();
    const list = await h.client.call<{ machineList: Record<string, string> }>('ListMachines', {
      machineClass: h.machineClass(BASE_SPEC, { provider: 'AWS' }),
      secretData: h.secretData(),
    });
    expect(list.machineList).toEqual({});
    expect(h.fake.requests).toHaveLength(0);
  });
});
