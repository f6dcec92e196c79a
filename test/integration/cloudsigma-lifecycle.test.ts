// MCM's call order, markers, duplicates and orphan safety for CloudSigma, against the stateful
// fake behind `prism proxy specs/cloudsigma.yaml --errors`.
import { randomUUID } from 'node:crypto';
import { MachineCode } from '../../src/driver/codes.js';
import {
  ALICE,
  BASE_SPEC,
  CLASS_NAME,
  CloudSigmaHarness,
  LIBRARY_DRIVE,
  NAMESPACE,
  USER_DATA,
  callError,
  type Status,
} from '../support/cloudsigma-harness.js';

let h: CloudSigmaHarness;

beforeAll(async () => {
  h = await CloudSigmaHarness.start();
});
afterAll(async () => {
  await h.close();
});
beforeEach(() => h.fake.reset());

const ours = (machine: string, cls = CLASS_NAME, ns = NAMESPACE) => ({
  'kubernetes.io/machine': machine,
  'kubernetes.io/machineclass': cls,
  'mcm-grpc-driver.io/cluster': ns,
});

describe('MCM call order against the CloudSigma fake behind Prism', () => {
  test('GetMachineStatus NotFound → Create → Initialize → Status OK → List → Delete → Status NotFound', async () => {
    const name = 'alpha-worker-z1-aaaa1';
    const notFound = await callError(h.client.call('GetMachineStatus', h.request(name)));
    expect(notFound.code).toBe(MachineCode.NotFound);

    const created = await h.client.call<Status>('CreateMachine', h.request(name));
    const servers = h.serversOf();
    expect(servers).toHaveLength(1);
    const server = servers[0]!;
    expect(created.providerId).toBe(`cloudsigma://${server.uuid}`);
    expect(created.nodeName).toBe(name);
    expect(server.status).toBe('running');
    expect(created.addresses).toHaveLength(1);
    expect(created.addresses[0]!.type).toBe('ExternalIP');

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
    // The boot drive the driver cloned went with the server (recurse=all_drives); the library drive stays.
    expect(h.drivesOf()).toHaveLength(0);
    expect(h.fake.drives().map((d) => d.uuid)).toEqual([LIBRARY_DRIVE]);

    const gone = await callError(h.client.call('GetMachineStatus', h.request(name, { providerID: created.providerId })));
    expect(gone.code).toBe(MachineCode.NotFound);
  });

  test('the steps: clone the library drive, wait, create the server with it, start it; never one request twice', async () => {
    await h.client.call('CreateMachine', h.request('alpha-worker-z1-steps'));
    const writes = h.fake.requests.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.path}${r.query.do ? `?do=${r.query.do}` : ''}`);
    const [drive] = h.drivesOf();
    const [server] = h.serversOf();
    expect(writes).toEqual([
      `POST /api/2.0/libdrives/${LIBRARY_DRIVE}/action/?do=clone`,
      'POST /api/2.0/servers/',
      `POST /api/2.0/servers/${server!.uuid}/action/?do=start`,
    ]);
    expect(drive!.status).toBe('mounted');
    expect(drive!.mounted_on).toEqual([server!.uuid]);
    // Every path ends in a slash, as the API's URL form has it.
    for (const r of h.fake.requests) expect(r.path.endsWith('/')).toBe(true);
  });

  test('the server carries the Machine, class and cluster markers, its boot drive and base64 user data in meta', async () => {
    await h.client.call('CreateMachine', h.request('alpha-worker-z1-meta'));
    const [server] = h.serversOf();
    const [drive] = h.drivesOf();
    expect(server!.name).toBe('alpha-worker-z1-meta');
    expect(server!.meta).toEqual({
      ...ours('alpha-worker-z1-meta'),
      'mcm-grpc-driver.io/boot-drive': drive!.uuid,
      'mcm-grpc-driver.io/created-at': expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      'cloudinit-user-data': Buffer.from(USER_DATA).toString('base64'),
      base64_fields: 'cloudinit-user-data',
    });
    expect(server!.context).toBe(true);
    expect(server!.drives).toEqual([{ drive: drive!.uuid, device: 'virtio', dev_channel: '0:0', boot_order: 1 }]);
    expect(drive!.name).toBe(`mcm:${NAMESPACE}:alpha-worker-z1-meta:boot`);
    expect(h.fake.requests.every((r) => r.user === undefined || r.user === ALICE)).toBe(true);
  });

  test('the provider name matches case-insensitively', async () => {
    const res = await h.client.call<Status>('CreateMachine', { ...h.request('alpha-worker-z1-case'), machineClass: h.machineClass(BASE_SPEC, { provider: 'cloudsigma' }) });
    expect(res.providerId).toMatch(/^cloudsigma:\/\/[0-9a-f-]{36}$/);
  });
});

describe('no duplicate VMs', () => {
  test('a create whose answer is lost adopts the server the cloud made', async () => {
    h.fake.injectFault({ method: 'POST', path: /^\/api\/2\.0\/servers\/$/, afterSuccess: 'drop' });
    const created = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-lost1'));
    expect(h.serversOf()).toHaveLength(1);
    expect(created.providerId).toBe(`cloudsigma://${h.serversOf()[0]!.uuid}`);
    expect(h.createRequests()).toHaveLength(1);
    expect(h.drivesOf()).toHaveLength(1);
  });

  test('a clone whose answer is lost continues with the drive found by its name, not a second clone', async () => {
    h.fake.injectFault({ method: 'POST', path: /\/libdrives\/.*\/action\/$/, afterSuccess: 'drop' });
    await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-lost2'));
    expect(h.cloneRequests()).toHaveLength(1);
    expect(h.drivesOf()).toHaveLength(1);
    expect(h.serversOf()).toHaveLength(1);
  });

  test('20 concurrent CreateMachine calls for one Machine make one server and one drive', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-race'))));
    expect(new Set(results.map((r) => r.providerId)).size).toBe(1);
    expect(h.serversOf()).toHaveLength(1);
    expect(h.drivesOf()).toHaveLength(1);
    expect(h.createRequests()).toHaveLength(1);
    expect(h.cloneRequests()).toHaveLength(1);
  });

  test('CreateMachine for a Machine whose server exists adopts it', async () => {
    const first = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-again'));
    const second = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-again'));
    expect(second.providerId).toBe(first.providerId);
    expect(h.createRequests()).toHaveLength(1);
  });

  test('two servers for one Machine: the older by the created-at marker the driver writes (CloudSigma gives no creation time) is kept, even with the higher UUID', async () => {
    const [lower, higher] = [randomUUID(), randomUUID()].sort();
    const seed = (uuid: string, createdAt: string) =>
      h.fake.seedServer({ owner: ALICE, uuid, name: 'alpha-worker-z1-old', meta: { ...ours('alpha-worker-z1-old'), 'mcm-grpc-driver.io/created-at': createdAt } });
    // The older one has the higher UUID, so the providerID tie-break alone would pick the other.
    seed(lower!, '2026-01-01T10:00:00.000Z');
    seed(higher!, '2026-01-01T09:00:00.000Z');
    const older = higher!;
    const status = await h.client.call<Status>('GetMachineStatus', h.request('alpha-worker-z1-old'));
    expect(status.providerId).toBe(`cloudsigma://${older}`);
    for (let i = 0; i < 100 && h.serversOf().length > 1; i++) await new Promise((r) => setTimeout(r, 50));
    expect(h.serversOf().map((s) => s.uuid)).toEqual([older]);
  });

  test('CreateMachine writes when it requested the server into its meta (the twin rule reads it back)', async () => {
    const before = Date.now();
    await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-when'));
    const at = Date.parse(String(h.serversOf()[0]!.meta?.['mcm-grpc-driver.io/created-at']));
    expect(at).toBeGreaterThanOrEqual(before - 1);
    expect(at).toBeLessThanOrEqual(Date.now());
  });

  test('two servers for one Machine without the created-at marker (made by hand or an older driver): the same one for every caller, the other is removed, nothing is created', async () => {
    const uuids = [0, 1].map(() => (h.fake.seedServer({ owner: ALICE, name: 'alpha-worker-z1-dup', meta: ours('alpha-worker-z1-dup') }) as { uuid: string }).uuid).sort();
    const status = await h.client.call<Status>('GetMachineStatus', h.request('alpha-worker-z1-dup'));
    expect(status.providerId).toBe(`cloudsigma://${uuids[0]}`);
    const create = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-dup'));
    expect(create.providerId).toBe(status.providerId);
    expect(h.createRequests()).toHaveLength(0);
    expect(h.cloneRequests()).toHaveLength(0);
    for (let i = 0; i < 100 && h.serversOf().length > 1; i++) await new Promise((r) => setTimeout(r, 50));
    expect(h.serversOf().map((s) => s.uuid)).toEqual([uuids[0]]);
  });
});

describe('orphan safety', () => {
  function seedForeign() {
    const seed = (name: string, meta: Record<string, string>) => h.fake.seedServer({ owner: ALICE, name, meta });
    return [
      seed('other-cluster', ours('alpha-worker-z1-x', CLASS_NAME, 'shoot--garden--beta')),
      seed('other-class', ours('alpha-worker-z2-x', 'alpha-worker-z2')),
      seed('alpha-worker-z1-hand', {}),
      seed('alpha-worker-z1-partial', { 'kubernetes.io/machineclass': CLASS_NAME, 'mcm-grpc-driver.io/cluster': NAMESPACE }),
      seed('alpha-worker-z1-empty', { ...ours('alpha-worker-z1-empty'), 'kubernetes.io/machine': '' }),
      seed('alpha-worker-z1-nocluster', { 'kubernetes.io/machine': 'alpha-worker-z1-nocluster', 'kubernetes.io/machineclass': CLASS_NAME }),
      seed('prefix', { ...ours('alpha-worker-z1-p'), 'kubernetes.io/machineclass': `${CLASS_NAME}x` }),
      // Another user's server with all our markers: not visible to this Secret at all.
      h.fake.seedServer({ owner: 'bob@example.com', name: 'bobs', meta: ours('alpha-worker-z1-bob') }),
    ];
  }

  test('ListMachines lists only servers with this cluster’s and this class’s markers', async () => {
    seedForeign();
    const mine = h.fake.seedServer({ owner: ALICE, name: 'alpha-worker-z1-orphan', meta: ours('alpha-worker-z1-orphan') });
    const stopped = h.fake.seedServer({ owner: ALICE, name: 'alpha-worker-z1-stopped', meta: ours('alpha-worker-z1-stopped'), status: 'stopped' });
    const list = await h.client.call<{ machineList: Record<string, string> }>('ListMachines', h.listRequest());
    expect(list.machineList).toEqual({
      [`cloudsigma://${mine.uuid}`]: 'alpha-worker-z1-orphan',
      [`cloudsigma://${stopped.uuid}`]: 'alpha-worker-z1-stopped',
    });
  });

  test('DeleteMachine with the orphan stub deletes exactly the providerID, not the live twin with the same name', async () => {
    seedForeign();
    const live = h.fake.seedServer({ owner: ALICE, name: 'alpha-worker-z1-twin', meta: ours('alpha-worker-z1-twin') });
    const orphan = h.fake.seedServer({ owner: ALICE, name: 'alpha-worker-z1-twin', meta: ours('alpha-worker-z1-twin') });
    const before = h.fake.servers().length;
    const stub = Buffer.from(JSON.stringify({ metadata: { name: 'alpha-worker-z1-twin', namespace: NAMESPACE }, spec: { providerID: `cloudsigma://${orphan.uuid}` } }));
    await h.client.call('DeleteMachine', { machine: stub, machineClass: h.machineClass(), secretData: h.secretData() });
    const left = h.fake.servers().map((s) => s.uuid);
    expect(left).toHaveLength(before - 1);
    expect(left).toContain(live.uuid);
    expect(left).not.toContain(orphan.uuid);
  });

  test('DeleteMachine with an empty providerID removes only this cluster’s servers of that Machine', async () => {
    const foreign = seedForeign();
    const mine = h.fake.seedServer({ owner: ALICE, name: 'alpha-worker-z1-x', meta: ours('alpha-worker-z1-x') });
    await h.client.call('DeleteMachine', h.request('alpha-worker-z1-x'));
    const left = h.fake.servers().map((s) => s.uuid);
    expect(left).not.toContain(mine.uuid);
    for (const f of foreign) expect(left).toContain(f.uuid);
  });

  test('DeleteMachine of a server that is already gone is OK', async () => {
    const res = await h.client.call<{ lastKnownState: string }>('DeleteMachine', h.request('alpha-worker-z1-gone', { providerID: 'cloudsigma://00000000-0000-4000-8000-000000000000' }));
    expect(res.lastKnownState).toBe('');
    expect(await h.client.call('DeleteMachine', h.request('alpha-worker-z1-never'))).toEqual({ lastKnownState: '' });
  });

  test('a providerID of another cloud is refused, nothing is deleted', async () => {
    const err = await callError(h.client.call('DeleteMachine', h.request('alpha-worker-z1-aws', { providerID: 'aws:///eu-west-1/i-0123' })));
    expect(err.code).toBe(MachineCode.InvalidArgument);
    expect(err.details).toContain('cloudsigma://<server uuid>');
    expect(h.fake.requests.filter((r) => r.method === 'DELETE')).toHaveLength(0);
  });

  test('a class of another provider gets an empty list, not an error', async () => {
    seedForeign();
    const list = await h.client.call<{ machineList: Record<string, string> }>('ListMachines', { machineClass: h.machineClass(BASE_SPEC, { provider: 'AWS' }), secretData: h.secretData() });
    expect(list.machineList).toEqual({});
    expect(h.fake.requests).toHaveLength(0);
  });
});

describe('delete: stop, wait, delete with the boot drive the driver made', () => {
  test('a running server is stopped first, then deleted with recurse=all_drives', async () => {
    const created = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-del'));
    h.fake.requests.length = 0;
    await h.client.call('DeleteMachine', h.request('alpha-worker-z1-del', { providerID: created.providerId }));
    const writes = h.fake.requests.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.query.do ?? r.query.recurse ?? ''}`);
    // Then, once the server answers 404, the boot drive's DELETE is repeated until it is gone (deletion is asynchronous).
    expect(writes.slice(0, 2)).toEqual(['POST stop', 'DELETE all_drives']);
    expect(writes.slice(2).every((w) => w === 'DELETE ')).toBe(true);
    expect(h.fake.servers()).toHaveLength(0);
    expect(h.drivesOf()).toHaveLength(0);
  });

  test('a stop slower than the driver\'s delete timeout: DeadlineExceeded from the driver, no DELETE yet; the next DeleteMachine deletes the server and the boot drive goes', async () => {
    const created = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-slow'));
    h.fake.setTiming({ stoppedAfterMs: 1_200 });
    await h.use({ timings: { deleteTimeoutMs: 300 } });
    try {
      h.fake.requests.length = 0;
      const err = await callError(h.client.call('DeleteMachine', h.request('alpha-worker-z1-slow', { providerID: created.providerId })));
      expect(err.code).toBe(MachineCode.DeadlineExceeded);
      expect(err.details).toContain('a step its deletion needs first');
      // One stop request; while the server is stopping it is left alone, and no DELETE went out.
      const writes = h.fake.requests.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.query.do ?? r.query.recurse ?? ''}`);
      expect(writes).toEqual(['POST stop']);
      expect(h.serversOf()).toHaveLength(1);
    } finally {
      await h.useDefaults();
    }
    await h.client.call('DeleteMachine', h.request('alpha-worker-z1-slow', { providerID: created.providerId }));
    expect(h.fake.servers()).toHaveLength(0);
    expect(h.drivesOf()).toHaveLength(0);
  });

  test('a drive attached by someone else (e.g. a volume not detached) survives; only the boot drive goes', async () => {
    const created = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-vol'));
    const [boot] = h.drivesOf();
    // Attach a second drive the way a CSI driver would: by editing the server (here: directly in the fake).
    const volume = h.fake.seedDrive({ owner: ALICE, name: 'pvc-1234' });
    const server = h.serversOf()[0]!;
    h.fake.seedServer({ owner: ALICE, uuid: server.uuid, name: server.name, meta: server.meta, status: 'running', drives: [...server.drives, { drive: volume.uuid, device: 'virtio', dev_channel: '0:1' }] });
    await h.client.call('DeleteMachine', h.request('alpha-worker-z1-vol', { providerID: created.providerId }));
    expect(h.fake.servers()).toHaveLength(0);
    expect(h.drivesOf().map((d) => d.uuid)).toEqual([volume.uuid]);
    expect(h.fake.requests.some((r) => r.method === 'DELETE' && r.query.recurse)).toBe(false);
    expect(h.fake.requests.some((r) => r.method === 'DELETE' && r.path === `/api/2.0/drives/${boot!.uuid}/`)).toBe(true);
  });

  test('a server the driver did not make drives for keeps its drives', async () => {
    const disk = h.fake.seedDrive({ owner: ALICE, name: 'hand-made' });
    const s = h.fake.seedServer({ owner: ALICE, name: 'alpha-worker-z1-hand', meta: ours('alpha-worker-z1-hand'), status: 'stopped', drives: [{ drive: disk.uuid, device: 'virtio', dev_channel: '0:0' }] });
    await h.client.call('DeleteMachine', h.request('alpha-worker-z1-hand', { providerID: `cloudsigma://${s.uuid}` }));
    expect(h.fake.servers()).toHaveLength(0);
    expect(h.drivesOf().map((d) => d.uuid)).toEqual([disk.uuid]);
  });

  test('GetVolumeIDs answers the drive UUID of CloudSigma CSI volumes only', async () => {
    const pv = (driver: string, handle: string) => Buffer.from(JSON.stringify({ csi: { driver, volumeHandle: handle } }));
    const res = await h.client.call<{ volumeIds: string[] }>('GetVolumeIDs', { pvSpecs: [pv('csi.cloudsigma.com', 'd-1'), pv('ebs.csi.aws.com', 'vol-2')] });
    expect(res.volumeIds).toEqual(['d-1']);
  });
});
