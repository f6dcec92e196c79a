// The CloudSigma fake behind `prism proxy specs/cloudsigma.yaml --errors`: Prism checks every
// request and response against the spec, so these tests prove both that the fake behaves like the
// API (owners, 403 vs 404, async clone and start, pagination, drives deleted with the server) and
// that its answers, and only spec-conforming requests, get through.
import { CloudSigmaHarness, LIBRARY_DRIVE, LIBRARY_DRIVE as LIB } from '../support/cloudsigma-harness.js';

let h: CloudSigmaHarness;
let base: string;

beforeAll(async () => {
  // A second for deletions, not the default 50 ms: "still readable right after the 204" is then true even on a
  // loaded machine, where one Prism round trip alone took longer than 50 ms (the test failed so before).
  h = await CloudSigmaHarness.start({ fake: { deleteAfterMs: 1000 } });
  base = h.prism!.url;
});
afterAll(async () => {
  await h.close();
});
beforeEach(() => h.fake.reset());

const basic = (email: string, password: string) => `Basic ${Buffer.from(`${email}:${password}`).toString('base64')}`;
const ALICE_AUTH = basic('alice@example.com', 'alice-password-1');
const BOB_AUTH = basic('bob@example.com', 'bob-password-2');

async function api(method: string, path: string, opts: { body?: unknown; auth?: string | null; query?: Record<string, string> } = {}) {
  const url = new URL(path, base);
  for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
  const headers: Record<string, string> = { accept: 'application/json' };
  const auth = opts.auth === undefined ? ALICE_AUTH : opts.auth;
  if (auth) headers.authorization = auth;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : (JSON.parse(text) as any) };
}

async function readyDrive(auth = ALICE_AUTH): Promise<string> {
  const clone = await api('POST', `/api/2.0/libdrives/${LIB}/action/`, { query: { do: 'clone' }, body: { name: 'd', media: 'disk' }, auth });
  expect(clone.status).toBe(202);
  expect(clone.body.objects[0].status).toBe('cloning_dst');
  const uuid = clone.body.objects[0].uuid as string;
  for (let i = 0; i < 100; i++) {
    const d = await api('GET', `/api/2.0/drives/${uuid}/`, { auth });
    if (d.body.status === 'unmounted') return uuid;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('clone did not finish');
}

const server = (name: string, drive: string) => ({ objects: [{ name, cpu: 1000, mem: 1024 ** 3, vnc_password: 'secret-vnc', drives: [{ drive, device: 'virtio', dev_channel: '0:0', boot_order: 1 }], nics: [{ ip_v4_conf: { conf: 'dhcp' } }] }] });

test('clone → create (201, stopped) → start (202) → running with an IP → stop → delete with all_drives (204)', async () => {
  const drive = await readyDrive();
  const created = await api('POST', '/api/2.0/servers/', { body: server('s1', drive) });
  expect(created.status).toBe(201);
  const s = created.body.objects[0];
  expect(s.status).toBe('stopped');
  expect(created.headers.get('location')).toBe(`/api/2.0/servers/${s.uuid}/`);
  expect(s.drives[0].drive).toEqual({ uuid: drive, resource_uri: `/api/2.0/drives/${drive}/` });
  expect((await api('GET', `/api/2.0/drives/${drive}/`)).body.status).toBe('mounted');

  const start = await api('POST', `/api/2.0/servers/${s.uuid}/action/`, { query: { do: 'start' }, body: {} });
  expect(start).toMatchObject({ status: 202, body: { action: 'start', result: 'success', uuid: s.uuid } });
  let got: any;
  for (let i = 0; i < 100 && got?.status !== 'running'; i++) {
    got = (await api('GET', `/api/2.0/servers/${s.uuid}/`)).body;
    await new Promise((r) => setTimeout(r, 25));
  }
  expect(got.runtime.nics[0]).toMatchObject({ interface_type: 'public', ip_v4: { uuid: expect.stringMatching(/^185\./) } });

  expect((await api('DELETE', `/api/2.0/servers/${s.uuid}/`, { query: { recurse: 'all_drives' } })).status).toBe(400);
  expect((await api('POST', `/api/2.0/servers/${s.uuid}/action/`, { query: { do: 'stop' }, body: {} })).status).toBe(202);
  await new Promise((r) => setTimeout(r, 150));
  const del = await api('DELETE', `/api/2.0/servers/${s.uuid}/`, { query: { recurse: 'all_drives' } });
  expect(del.status).toBe(204);
  expect(del.body).toBeUndefined();
  // Asynchronous (servers.rst "object deletion started"; pycloudsigma waits for the 404s): the server is still
  // readable right after the 204, still holding its drive; the server goes first, the drive after it.
  expect((await api('GET', `/api/2.0/servers/${s.uuid}/`)).status).toBe(200);
  expect((await api('GET', `/api/2.0/drives/${drive}/`)).body.status).toBe('mounted');
  expect((await api('DELETE', `/api/2.0/servers/${s.uuid}/`, { query: { recurse: 'all_drives' } })).status).toBe(204);
  expect((await api('DELETE', `/api/2.0/drives/${drive}/`)).status).toBe(400);
  let serverStatus = 200;
  for (let i = 0; i < 100 && serverStatus !== 404; i++) {
    serverStatus = (await api('GET', `/api/2.0/servers/${s.uuid}/`)).status;
    if (serverStatus !== 404) await new Promise((r) => setTimeout(r, 25));
  }
  expect(serverStatus).toBe(404);
  let driveStatus = 200;
  for (let i = 0; i < 100 && driveStatus !== 404; i++) {
    driveStatus = (await api('GET', `/api/2.0/drives/${drive}/`)).status;
    if (driveStatus !== 404) await new Promise((r) => setTimeout(r, 25));
  }
  expect(driveStatus).toBe(404);
  expect(h.fake.drives().map((d) => d.uuid)).toEqual([LIBRARY_DRIVE]);
});

test('another user’s server answers 403 with a permission error list; an unknown one 404', async () => {
  const bobs = h.fake.seedServer({ owner: 'bob@example.com', name: 'bobs' });
  const forbidden = await api('GET', `/api/2.0/servers/${bobs.uuid}/`);
  expect(forbidden.status).toBe(403);
  expect(forbidden.body).toEqual([
    { error_type: 'permission', error_message: expect.stringContaining('does not have all of the permissions [LIST]'), error_point: null },
  ]);
  expect((await api('GET', `/api/2.0/servers/${bobs.uuid}/`, { auth: BOB_AUTH })).status).toBe(200);
  const missing = await api('GET', '/api/2.0/servers/00000000-0000-4000-8000-000000000000/');
  expect(missing.status).toBe(404);
  expect(missing.body[0].error_type).toBe('notexist');
  expect((await api('DELETE', `/api/2.0/servers/${bobs.uuid}/`)).status).toBe(403);
});

test('lists page with limit/offset and report total_count; each user sees only its own', async () => {
  h.fake.seedServers(45, (i) => ({ owner: 'alice@example.com', name: `a-${i}` }));
  h.fake.seedServers(5, (i) => ({ owner: 'bob@example.com', name: `b-${i}` }));
  const first = await api('GET', '/api/2.0/servers/detail/', { query: { limit: '20', offset: '40', order_by: 'uuid' } });
  expect(first.status).toBe(200);
  expect(first.body.meta).toEqual({ limit: 20, offset: 40, total_count: 45 });
  expect(first.body.objects).toHaveLength(5);
  const all = await api('GET', '/api/2.0/servers/', { query: { limit: '0' } });
  expect(all.body.objects).toHaveLength(45);
  const named = await api('GET', '/api/2.0/drives/detail/', { query: { name: 'nothing-by-that-name' } });
  expect(named.body).toEqual({ meta: { limit: 20, offset: 0, total_count: 0 }, objects: [] });
});

test('Prism refuses requests that break the spec before they reach the fake', async () => {
  const drive = await readyDrive();
  h.fake.requests.length = 0;
  const noVnc = { objects: [{ name: 's', cpu: 1000, mem: 1024 ** 3, drives: [{ drive, device: 'virtio', dev_channel: '0:0' }] }] };
  expect((await api('POST', '/api/2.0/servers/', { body: noVnc })).status).toBe(422);
  expect((await api('POST', `/api/2.0/servers/${drive}/action/`, { query: { do: 'reboot' }, body: {} })).status).toBe(422);
  expect((await api('DELETE', `/api/2.0/servers/${drive}/`, { query: { recurse: 'everything' } })).status).toBe(422);
  expect((await api('GET', '/api/2.0/servers/', { auth: null })).status).toBe(401);
  expect(h.fake.requests).toHaveLength(0);
});

test('Prism refuses answers that break the spec (an adapter never sees them)', async () => {
  h.fake.injectFault({ method: 'GET', path: /^\/api\/2\.0\/servers\/detail\/$/, status: 200, body: { objects: [{ uuid: 'x', status: 'exploded' }] } });
  const res = await api('GET', '/api/2.0/servers/detail/');
  expect(res.status).toBe(500);
  expect(res.headers.get('content-type')).toContain('application/problem+json');
});

test('the fake refuses what the API refuses: a mounted drive, a drive still cloning, a meta key over 32 characters', async () => {
  const clone = await api('POST', `/api/2.0/libdrives/${LIB}/action/`, { query: { do: 'clone' }, body: { name: 'c', media: 'disk' } });
  const cloning = clone.body.objects[0].uuid as string;
  expect((await api('POST', '/api/2.0/servers/', { body: server('s', cloning) })).status).toBe(400);
  const drive = await readyDrive();
  const long = server('s', drive);
  (long.objects[0] as Record<string, unknown>).meta = { ['k'.repeat(33)]: 'v' };
  const refused = await api('POST', '/api/2.0/servers/', { body: long });
  expect(refused.status).toBe(400);
  expect(refused.body[0].error_message).toContain('32');
  expect((await api('POST', '/api/2.0/servers/', { body: server('s', drive) })).status).toBe(201);
  expect((await api('DELETE', `/api/2.0/drives/${drive}/`)).status).toBe(400);
});
