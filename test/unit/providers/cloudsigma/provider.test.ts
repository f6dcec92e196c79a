import nock from 'nock';
import { isolateNock } from '../../nock-isolation.js';
import { CloudSigmaProvider } from '../../../../src/providers/cloudsigma/cloudsigma-provider.js';
import { listed } from '../../../support/listed.js';

isolateNock();
afterEach(() => {
  delete process.env.CLOUDSIGMA_API_ENDPOINT;
});

const LIB = 'c7105ec8-5d60-43a7-a11b-18dcfc1a4433';
const cls = (extra: Record<string, unknown> = {}) => ({
  name: 'worker',
  namespace: 'shoot--a--b',
  provider: 'CloudSigma',
  providerSpec: { cpu: 2000, memory: '1Gi', bootDrive: { source: { libraryDrive: LIB } }, nics: [{ ipv4: { conf: 'dhcp' } }], ...extra },
});
const secret = (data: Record<string, string>) => Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v)]));
const basic = { location: 'zrh', username: 'a@example.com', password: 'pw-123456' };
const emptyList = { meta: { limit: 500, offset: 0, total_count: 0 }, objects: [] };
const signal = new AbortController().signal;

test('the API host is https://{location}.cloudsigma.com/api/2.0/ by default, with Basic auth', async () => {
  const scope = nock('https://fra.cloudsigma.com')
    .get('/api/2.0/servers/detail/')
    .query(true)
    .matchHeader('authorization', `Basic ${Buffer.from('a@example.com:pw-123456').toString('base64')}`)
    .reply(200, emptyList);
  const session = await new CloudSigmaProvider({ retry: { limit: 0 } }).open(cls(), secret({ ...basic, location: 'fra' }), 'manage');
  expect(await listed(session.list(signal))).toEqual([]);
  expect(scope.isDone()).toBe(true);
});

test('impersonating, the API host is direct.{location} (kube-dc: tokens of the service-provider API are bound to it)', async () => {
  nock('https://oauth.cloudsigma.com')
    .post('/realms/cloudsigma/protocol/openid-connect/token').reply(200, { access_token: 'sa', expires_in: 300 })
    .post('/realms/cloudsigma/protocol/openid-connect/token').reply(200, { access_token: 'rpt', expires_in: 300 });
  nock('https://direct.zrh.cloudsigma.com')
    .post('/service_provider/api/v1/user/impersonate').reply(200, { access_token: 'user-token', expires_in: 900 })
    .get('/api/2.0/servers/detail/').query(true).matchHeader('authorization', 'Bearer user-token').reply(200, emptyList);
  const session = await new CloudSigmaProvider({ retry: { limit: 0 } }).open(
    cls(),
    secret({ location: 'zrh', 'oauth-client-id': 'p', 'oauth-client-secret': 'ps-123456', 'impersonate-user': 'sub@example.com' }),
    'manage',
  );
  expect(await listed(session.list(signal))).toEqual([]);
  expect(nock.pendingMocks()).toHaveLength(0);
});

test('env CLOUDSIGMA_API_ENDPOINT ({location} replaced) overrides the default; a Secret’s api-endpoint overrides both', async () => {
  process.env.CLOUDSIGMA_API_ENDPOINT = 'https://{location}.partner.test/api/2.0';
  const env = nock('https://zrh.partner.test').get('/api/2.0/servers/detail/').query(true).reply(200, emptyList);
  await listed((await new CloudSigmaProvider({ retry: { limit: 0 } }).open(cls(), secret(basic), 'manage')).list(signal));
  expect(env.isDone()).toBe(true);
  const own = nock('https://ec.servecentric.test').get('/api/2.0/servers/detail/').query(true).reply(200, emptyList);
  await listed((await new CloudSigmaProvider({ retry: { limit: 0 } }).open(cls(), secret({ ...basic, 'api-endpoint': 'https://ec.servecentric.test/api/2.0/' }), 'manage')).list(signal));
  expect(own.isDone()).toBe(true);
});

test('the provider offers its schemas and reads only CloudSigma CSI volumes', () => {
  const p = new CloudSigmaProvider();
  expect(p.schemas.providerSpec).toHaveProperty('title', 'CloudSigma MachineClass providerSpec');
  expect(p.volumeId({ csi: { driver: 'csi.cloudsigma.com', volumeHandle: 'd-1' } })).toBe('d-1');
  expect(p.volumeId({ csi: { driver: 'other', volumeHandle: 'd-1' } })).toBeUndefined();
  expect(p.volumeId({})).toBeUndefined();
});

test('list hands out one page at a time: the next page is asked for only when the caller wants it; only own servers with both markers', async () => {
  const me = '11111111-1111-4111-8111-111111111111';
  const meta = (machine: string) => ({ 'kubernetes.io/machine': machine, 'kubernetes.io/machineclass': 'worker', 'mcm-grpc-driver.io/cluster': 'shoot--a--b' });
  const server = (n: number, owner = me, m: Record<string, string> = meta(`m-${n}`)) => ({ uuid: `00000000-0000-4000-8000-00000000000${n}`, status: 'running', owner: { uuid: owner }, meta: m });
  const api = nock('https://zrh.cloudsigma.com/api/2.0')
    .get('/profile/').reply(200, { uuid: me })
    .get('/servers/detail/').query((q) => q.offset === '0').reply(200, { meta: { total_count: 4 }, objects: [server(1), server(2, 'someone-else')] })
    .get('/servers/detail/').query((q) => q.offset === '2').reply(200, { meta: { total_count: 4 }, objects: [server(3, me, { ...meta('m-3'), 'kubernetes.io/machineclass': 'other' }), server(4)] });
  const session = await new CloudSigmaProvider({ retry: { limit: 0 }, pageSize: 2 }).open(cls(), secret(basic), 'manage');
  const pages = session.list(signal)[Symbol.asyncIterator]();
  expect((await pages.next()).value).toEqual([{ providerId: 'cloudsigma://00000000-0000-4000-8000-000000000001', machineName: 'm-1', state: 'running' }]);
  expect(api.pendingMocks()).toHaveLength(1);
  expect((await pages.next()).value).toEqual([{ providerId: 'cloudsigma://00000000-0000-4000-8000-000000000004', machineName: 'm-4', state: 'running' }]);
  expect((await pages.next()).done).toBe(true);
  expect(api.isDone()).toBe(true);
});
