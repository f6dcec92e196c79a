import nock from 'nock';
import { isolateNock } from '../../nock-isolation.js';
import { CloudApiError } from '../../../../src/http/cloud-api-error.js';
import { CloudHttpClient } from '../../../../src/http/cloud-http-client.js';
import { CloudSigmaApi } from '../../../../src/providers/cloudsigma/api-client.js';
import type { CloudSigmaAuth } from '../../../../src/providers/cloudsigma/auth.js';

const BASE = 'http://zrh.cloudsigma.test/api/2.0/';
const signal = new AbortController().signal;

isolateNock();

function setup(pageSize = 3) {
  let invalidated = 0;
  const auth: CloudSigmaAuth = {
    actingAs: 'a@example.com',
    impersonating: false,
    authorization: async () => ({ authorization: 'Bearer t' }),
    invalidate: () => {
      invalidated++;
      return true;
    },
  };
  const common = {
    cloud: 'cloudsigma',
    baseUrl: BASE,
    timeoutMs: 1_000,
    retry: { limit: 2, baseDelayMs: 1, maxDelayMs: 2 },
    authorize: auth.authorization,
    unauthorized: (sent: string | undefined) => auth.invalidate(sent),
  };
  const api = new CloudSigmaApi(new CloudHttpClient(common), new CloudHttpClient({ ...common, retryMethods: ['GET', 'PUT', 'DELETE', 'POST'] }), auth, pageSize);
  return { api, invalidated: () => invalidated };
}

const servers = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ uuid: `s-${from + i}` }));
const page = (offset: number, n: number, total: number) => ({ meta: { limit: 3, offset, total_count: total }, objects: servers(offset, n) });

test('pages follow total_count even when the API answers fewer objects than asked', async () => {
  const scope = nock('http://zrh.cloudsigma.test')
    .get('/api/2.0/servers/detail/').query({ limit: '3', offset: '0', order_by: 'uuid' }).reply(200, page(0, 2, 5))
    .get('/api/2.0/servers/detail/').query({ limit: '3', offset: '2', order_by: 'uuid' }).reply(200, page(2, 2, 5))
    .get('/api/2.0/servers/detail/').query({ limit: '3', offset: '4', order_by: 'uuid' }).reply(200, page(4, 1, 5));
  const { api } = setup();
  expect((await api.listServers(signal)).map((s) => s.uuid)).toEqual(['s-0', 's-1', 's-2', 's-3', 's-4']);
  expect(scope.isDone()).toBe(true);
});

test('a listing whose total_count changes while it is read is read again, and both readings are merged', async () => {
  const scope = nock('http://zrh.cloudsigma.test')
    .get('/api/2.0/servers/detail/').query({ limit: '3', offset: '0', order_by: 'uuid' }).reply(200, page(0, 3, 4))
    // A server was deleted meanwhile: s-3 moved onto the first page, this page is short.
    .get('/api/2.0/servers/detail/').query({ limit: '3', offset: '3', order_by: 'uuid' }).reply(200, { meta: { total_count: 3 }, objects: [] })
    .get('/api/2.0/servers/detail/').query({ limit: '3', offset: '0', order_by: 'uuid' }).reply(200, { meta: { total_count: 3 }, objects: [{ uuid: 's-1' }, { uuid: 's-2' }, { uuid: 's-3' }] });
  const { api } = setup();
  expect((await api.listServers(signal)).map((s) => s.uuid).sort()).toEqual(['s-0', 's-1', 's-2', 's-3']);
  expect(scope.isDone()).toBe(true);
});

test('drives are found by exact name only, whatever the name filter returns', async () => {
  nock('http://zrh.cloudsigma.test')
    .get('/api/2.0/drives/detail/').query(true)
    .reply(200, { meta: { total_count: 2 }, objects: [{ uuid: 'd-1', name: 'mcm:a:b:boot' }, { uuid: 'd-2', name: 'mcm:a:b:boot-2' }] });
  const { api } = setup(10);
  expect((await api.listDrivesNamed('mcm:a:b:boot', signal)).map((d) => d.uuid)).toEqual(['d-1']);
});

test('a server create is never repeated; a start is (it creates nothing)', async () => {
  const scope = nock('http://zrh.cloudsigma.test')
    .post('/api/2.0/servers/').reply(503, [{ error_type: 'concurrency', error_message: 'busy', error_point: null }])
    .post('/api/2.0/servers/s-1/action/').query({ do: 'start' }).reply(503, [])
    .post('/api/2.0/servers/s-1/action/').query({ do: 'start' }).reply(202, { action: 'start', result: 'success', uuid: 's-1' });
  const { api } = setup();
  await expect(api.createServer({ name: 'x', cpu: 1, mem: 1, vnc_password: 'v', context: true, drives: [], nics: [], meta: {} }, signal)).rejects.toBeInstanceOf(CloudApiError);
  await api.startServer('s-1', signal);
  expect(scope.isDone()).toBe(true);
});

test('a drive clone is never repeated; its answer may be {objects: [drive]} or a bare drive', async () => {
  nock('http://zrh.cloudsigma.test')
    .post('/api/2.0/libdrives/l-1/action/', { name: 'n', media: 'disk' }).query({ do: 'clone' }).reply(202, { objects: [{ uuid: 'd-1', status: 'cloning_dst' }] })
    .post('/api/2.0/drives/o-1/action/').query({ do: 'clone' }).reply(202, { uuid: 'd-2', status: 'cloning_dst' })
    .post('/api/2.0/drives/o-2/action/').query({ do: 'clone' }).reply(500, {});
  const { api } = setup();
  expect((await api.cloneLibraryDrive('l-1', { name: 'n', media: 'disk' }, signal)).uuid).toBe('d-1');
  expect((await api.cloneDrive('o-1', { name: 'n', media: 'disk' }, signal)).uuid).toBe('d-2');
  await expect(api.cloneDrive('o-2', { name: 'n', media: 'disk' }, signal)).rejects.toBeInstanceOf(CloudApiError);
  expect(nock.pendingMocks()).toHaveLength(0);
});

test('404 on get and delete means gone; 403 is thrown; 401 drops cached credentials and re-sends a read once', async () => {
  nock('http://zrh.cloudsigma.test')
    .get('/api/2.0/servers/s-404/').reply(404, [])
    .delete('/api/2.0/servers/s-404/').query({ recurse: 'all_drives' }).reply(404, [])
    .delete('/api/2.0/drives/d-404/').reply(404, [])
    .get('/api/2.0/servers/s-403/').reply(403, [{ error_type: 'permission', error_message: 'no', error_point: null }])
    .get('/api/2.0/servers/s-401/').times(2).reply(401, []);
  const { api, invalidated } = setup();
  expect(await api.getServer('s-404', signal)).toBeUndefined();
  await api.deleteServer('s-404', 'all_drives', signal);
  await api.deleteDrive('d-404', signal);
  await expect(api.getServer('s-403', signal)).rejects.toMatchObject({ status: 403 });
  await expect(api.getServer('s-401', signal)).rejects.toMatchObject({ status: 401 });
  expect(invalidated()).toBe(1);
});

test('a 401 on a read heals within the call; a 401 on a create drops the token but is not repeated', async () => {
  const scope = nock('http://zrh.cloudsigma.test')
    .get('/api/2.0/servers/s-1/').reply(401, [])
    .get('/api/2.0/servers/s-1/').reply(200, { uuid: 's-1', status: 'running' })
    .post('/api/2.0/servers/').reply(401, []);
  const { api, invalidated } = setup();
  expect((await api.getServer('s-1', signal))?.uuid).toBe('s-1');
  expect(invalidated()).toBe(1);
  await expect(api.createServer({ name: 'x', cpu: 1, mem: 1, vnc_password: 'v', context: true, drives: [], nics: [], meta: {} }, signal)).rejects.toMatchObject({ status: 401 });
  expect(invalidated()).toBe(2);
  expect(scope.isDone()).toBe(true);
});
