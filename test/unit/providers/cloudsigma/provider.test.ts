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
