// CloudSigma as its real API behaves (issue 13), against the fake behind `prism proxy specs/cloudsigma.yaml`:
// 1. out of capacity is a 503 (cloudsigma-docs general.rst); 2. deletion is asynchronous (servers.rst,
// drives.rst "204: No content, object deletion started"; pycloudsigma acceptance tests wait for the 404s);
// 3. listings carry objects other accounts shared through ACLs, told apart by `owner` (acls.rst);
// (4., the schema as documented now, is in cloudsigma-provider-spec.test.ts).
import { MachineCode } from '../../src/driver/codes.js';
import { ALICE, BOB, CloudSigmaHarness, NAMESPACE, CLASS_NAME, callError, leftoversOf, waitFor, type Status } from '../support/cloudsigma-harness.js';

let h: CloudSigmaHarness;

beforeAll(async () => {
  h = await CloudSigmaHarness.start();
});
afterAll(async () => {
  await h.close();
});
beforeEach(async () => {
  h.fake.reset();
  await h.useDefaults();
});

const START = { method: 'POST', path: /^\/api\/2\.0\/servers\/[^/]+\/action\/$/, query: { do: 'start' } };
const CREATE = { method: 'POST', path: /^\/api\/2\.0\/servers\/$/ };

function ours(machine: string): Record<string, string> {
  return { 'kubernetes.io/machine': machine, 'kubernetes.io/machineclass': CLASS_NAME, 'mcm-grpc-driver.io/cluster': NAMESPACE };
}

describe('1. out of capacity is a 503', () => {
  test('no capacity for the server: ResourceExhausted with CloudSigma’s reason; the cloned drive is kept and reused, never cloned again', async () => {
    h.fake.setOutOfCapacity(['create']);
    const first = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-cap1')));
    expect(first.code).toBe(MachineCode.ResourceExhausted);
    expect(first.details).toContain('cannot provide enough resources');
    const kept = h.drivesOf();
    expect(kept).toHaveLength(1);
    expect(leftoversOf(first).cloudsigma?.leftDrives).toEqual([kept[0]!.uuid]);

    // MCM retries (in 10 min for ResourceExhausted): still full, still no second clone.
    const second = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-cap1', { lastKnownState: String(first.response?.lastKnownState ?? '') })));
    expect(second.code).toBe(MachineCode.ResourceExhausted);
    expect(h.cloneRequests()).toHaveLength(1);
    expect(h.drivesOf().map((d) => d.uuid)).toEqual([kept[0]!.uuid]);

    h.fake.setOutOfCapacity([]);
    const ok = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-cap1'));
    expect(h.cloneRequests()).toHaveLength(1);
    expect(h.serversOf()).toHaveLength(1);
    expect(ok.providerId).toBe(`cloudsigma://${h.serversOf()[0]!.uuid}`);
    expect(h.serversOf()[0]!.drives.map((d) => d.drive)).toEqual([kept[0]!.uuid]);
  });

  test('no capacity to start: ResourceExhausted, the stopped server is kept and the next call starts it (one clone, one create)', async () => {
    h.fake.setOutOfCapacity(['start']);
    const err = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-cap2')));
    expect(err.code).toBe(MachineCode.ResourceExhausted);
    expect(h.serversOf().map((s) => s.status)).toEqual(['stopped']);
    h.fake.setOutOfCapacity([]);
    const ok = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-cap2', { lastKnownState: String(err.response?.lastKnownState ?? '') }));
    expect(ok.providerId).toBe(`cloudsigma://${h.serversOf()[0]!.uuid}`);
    expect(h.cloneRequests()).toHaveLength(1);
    expect(h.createRequests()).toHaveLength(1);
  });

  test('no capacity for the clone: ResourceExhausted, nothing is made', async () => {
    h.fake.setOutOfCapacity(['clone']);
    const err = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-cap3')));
    expect(err.code).toBe(MachineCode.ResourceExhausted);
    expect(h.drivesOf()).toHaveLength(0);
    expect(h.createRequests()).toHaveLength(0);
  });

  test('a 503 concurrency error (errors.rst: "should be retried") stays Unavailable', async () => {
    h.fake.injectFault({ ...CREATE, status: 503, body: [{ error_type: 'concurrency', error_message: 'Another operation is in progress', error_point: null }] });
    const err = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-cap4')));
    expect(err.code).toBe(MachineCode.Unavailable);
  });
});

describe('2. deletion is asynchronous', () => {
  test('the boot drive of a server deleted without recurse is deleted only after the server answered 404, and is gone when DeleteMachine answers', async () => {
    h.fake.setTiming({ deleteAfterMs: 400, driveDeleteAfterMs: 200 });
    const created = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-ad1'));
    const [boot] = h.drivesOf();
    const volume = h.fake.seedDrive({ owner: ALICE, name: 'pvc-5678' });
    const server = h.serversOf()[0]!;
    h.fake.seedServer({ owner: ALICE, uuid: server.uuid, name: server.name, meta: server.meta, status: 'running', drives: [...server.drives, { drive: volume.uuid, device: 'virtio', dev_channel: '0:1' }] });
    h.fake.requests.length = 0;
    await h.client.call('DeleteMachine', h.request('alpha-worker-z1-ad1', { providerID: created.providerId }));
    expect(h.fake.servers()).toHaveLength(0);
    expect(h.drivesOf().map((d) => d.uuid)).toEqual([volume.uuid]);
    const log = h.fake.requests;
    const serverGone = log.findIndex((r) => r.method === 'GET' && r.path === `/api/2.0/servers/${server.uuid}/` && log.indexOf(r) > log.findIndex((x) => x.method === 'DELETE'));
    const driveDeletes = log.map((r, i) => ({ r, i })).filter(({ r }) => r.method === 'DELETE' && r.path === `/api/2.0/drives/${boot!.uuid}/`);
    expect(serverGone).toBeGreaterThan(-1);
    expect(driveDeletes.length).toBeGreaterThan(0);
    // Never while the server still held it.
    const lastServerRead = Math.max(...log.map((r, i) => (r.method === 'GET' && r.path === `/api/2.0/servers/${server.uuid}/` ? i : -1)));
    expect(driveDeletes.every(({ i }) => i > lastServerRead)).toBe(true);
  });

  test('a failed boot drive removal is not dropped: DeleteMachine fails naming it, and the next DeleteMachine removes it', async () => {
    const created = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-ad2'));
    const [boot] = h.drivesOf();
    const volume = h.fake.seedDrive({ owner: ALICE, name: 'pvc-9abc' });
    const server = h.serversOf()[0]!;
    h.fake.seedServer({ owner: ALICE, uuid: server.uuid, name: server.name, meta: server.meta, status: 'stopped', drives: [...server.drives, { drive: volume.uuid, device: 'virtio', dev_channel: '0:1' }] });
    h.fake.injectFault({ method: 'DELETE', path: new RegExp(`^/api/2\\.0/drives/${boot!.uuid}/$`), status: 500, times: 5 });
    const err = await callError(h.client.call('DeleteMachine', h.request('alpha-worker-z1-ad2', { providerID: created.providerId })));
    expect(err.code).toBe(MachineCode.Unavailable);
    expect(err.details).toContain(boot!.uuid);
    expect(h.fake.servers()).toHaveLength(0);
    expect(h.drivesOf().map((d) => d.uuid).sort()).toEqual([boot!.uuid, volume.uuid].sort());
    // MCM calls again (the server is long gone): the drive is found by its boot-drive name and removed.
    await h.client.call('DeleteMachine', h.request('alpha-worker-z1-ad2', { providerID: created.providerId }));
    expect(h.drivesOf().map((d) => d.uuid)).toEqual([volume.uuid]);
  });

  test('a server still being deleted (a DeleteMachine that ran out of time) is not adopted or started by the next CreateMachine', async () => {
    await h.use({ timings: { deleteTimeoutMs: 1_500 } });
    const created = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-ad3'));
    h.fake.setTiming({ deleteAfterMs: 6_000 });
    const timedOut = await callError(h.client.call('DeleteMachine', h.request('alpha-worker-z1-ad3', { providerID: created.providerId })));
    expect(timedOut.code).toBe(MachineCode.DeadlineExceeded);
    expect(h.serversOf()).toHaveLength(1); // still listed: its deletion started
    h.fake.requests.length = 0;
    // The Machine is recreated with an empty providerID (MCM's creation flow): the server on its way out is not its VM.
    const next = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-ad3')));
    expect(next.code).toBe(MachineCode.Unavailable);
    expect(next.details).toContain('still being deleted');
    expect(h.apiRequests('POST')).toHaveLength(0);
  });
});

describe('3. objects other accounts share through ACLs', () => {
  function seedShared(machine: string) {
    const drive = h.fake.seedDrive({ owner: BOB, name: `mcm:${NAMESPACE}:${machine}:boot` });
    const server = h.fake.seedServer({ owner: BOB, name: machine, meta: ours(machine), status: 'stopped', drives: [{ drive: drive.uuid, device: 'virtio', dev_channel: '0:0' }] });
    const spare = h.fake.seedDrive({ owner: BOB, name: `mcm:${NAMESPACE}:${machine}-new:boot` });
    for (const uuid of [server.uuid, drive.uuid, spare.uuid]) h.fake.share(uuid, ALICE, ['LIST', 'EDIT', 'ATTACH', 'START', 'STOP']);
    return { server, drive, spare, uuids: [server.uuid, drive.uuid, spare.uuid] };
  }

  function untouched(uuids: string[]): void {
    const writes = h.fake.requests.filter((r) => r.method !== 'GET' && uuids.some((u) => r.path.includes(u)));
    expect(writes).toEqual([]);
    for (const u of uuids) expect([...h.fake.servers(), ...h.fake.drives()].some((o) => o.uuid === u)).toBe(true);
  }

  test('the fake lists them for the grantee, with the owner’s uuid (acls.rst)', async () => {
    const shared = seedShared('alpha-worker-z1-sh0');
    const res = await fetch(`${h.fake.apiUrl}servers/detail/`, { headers: { authorization: `Basic ${Buffer.from(`${ALICE}:${h.fake.user(ALICE).password}`).toString('base64')}` } });
    const body = (await res.json()) as { objects: Array<{ uuid: string; owner: { uuid: string } }> };
    expect(body.objects.map((o) => [o.uuid, o.owner.uuid])).toEqual([[shared.server.uuid, h.fake.user(BOB).uuid]]);
  });

  test('a shared server with our markers is never listed, adopted or deleted; the Machine gets its own server', async () => {
    const machine = 'alpha-worker-z1-sh1';
    const shared = seedShared(machine);
    const list = await h.client.call<{ machineList: Record<string, string> }>('ListMachines', h.listRequest());
    expect(list.machineList).toEqual({});
    const created = await h.client.call<Status>('CreateMachine', h.request(machine));
    expect(created.providerId).not.toBe(`cloudsigma://${shared.server.uuid}`);
    expect(h.serversOf()).toHaveLength(1);
    // The orphan stub with an empty providerID, and DeleteMachine of the shared server's providerID.
    await h.client.call('DeleteMachine', h.request(machine));
    const denied = await callError(h.client.call('DeleteMachine', h.request(machine, { providerID: `cloudsigma://${shared.server.uuid}` })));
    expect(denied.code).toBe(MachineCode.PermissionDenied);
    expect(denied.details).toContain('another account');
    untouched(shared.uuids);
    expect(h.serversOf()).toHaveLength(0);
  });

  test('a shared drive with the boot-drive name is neither adopted nor removed', async () => {
    const machine = 'alpha-worker-z1-sh2';
    const shared = seedShared(`${machine}-x`);
    const spare = shared.spare; // named like the boot drive of `${machine}-x-new`
    await h.client.call<Status>('CreateMachine', h.request(`${machine}-x-new`));
    expect(h.serversOf()[0]!.drives.map((d) => d.drive)).not.toContain(spare.uuid);
    expect(h.cloneRequests()).toHaveLength(1);
    await h.client.call('DeleteMachine', h.request(`${machine}-x-new`));
    untouched(shared.uuids);
  });

  test('the acting user is read once per credential (GET /profile/), also when impersonating', async () => {
    for (const kind of ['basic', 'impersonate'] as const) {
      h.fake.reset();
      seedShared('alpha-worker-z1-sh3');
      const secret = h.secretData(kind);
      await h.client.call('ListMachines', h.listRequest({ secret }));
      await h.client.call('ListMachines', h.listRequest({ secret }));
      const profiles = h.apiRequests('GET', /^\/api\/2\.0\/profile\/$/);
      expect(profiles.length).toBeLessThanOrEqual(1);
      expect(profiles.every((r) => r.user === ALICE)).toBe(true);
    }
  });
});
