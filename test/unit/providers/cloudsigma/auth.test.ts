import nock from 'nock';
import { isolateNock } from '../../nock-isolation.js';
import { BasicAuth, ImpersonationFlow } from '../../../../src/providers/cloudsigma/auth.js';

isolateNock();

const TOKEN_PATH = '/realms/cloudsigma/protocol/openid-connect/token';
const config = {
  clientId: 'partner',
  clientSecret: 'partner-secret',
  user: 'sub@example.com',
  location: 'zrh',
  tokenUrl: `http://oauth.test${TOKEN_PATH}`,
  impersonationUrl: 'http://direct.zrh.test/service_provider/api/v1/user/impersonate',
};

function exchange(opts: { impersonatedExpiresIn?: number; times?: number } = {}) {
  const oauth = nock('http://oauth.test')
    .post(TOKEN_PATH, (b: Record<string, string>) => b.grant_type === 'client_credentials' && b.client_id === 'partner' && b.client_secret === 'partner-secret')
    .times(opts.times ?? 1)
    .reply(200, { access_token: 'sa-1', expires_in: 300 })
    .post(TOKEN_PATH, (b: Record<string, string>) => b.grant_type === 'urn:ietf:params:oauth:grant-type:uma-ticket' && b.audience === 'service_provider_api')
    .matchHeader('authorization', 'Bearer sa-1')
    .times(opts.times ?? 1)
    .reply(200, { access_token: 'rpt-1', expires_in: 300 });
  const sp = nock('http://direct.zrh.test')
    .post('/service_provider/api/v1/user/impersonate', { user_email: 'sub@example.com', subject_token: 'sa-1' })
    .matchHeader('authorization', 'Bearer rpt-1')
    .delay(20)
    .times(opts.times ?? 1)
    .reply(200, { access_token: 'user-1', token_type: 'Bearer', ...(opts.impersonatedExpiresIn === undefined ? {} : { expires_in: opts.impersonatedExpiresIn }) });
  return { oauth, sp };
}

test('client credentials → RPT → impersonate, as kube-dc does; concurrent callers share one exchange, later ones the cache', async () => {
  const { oauth, sp } = exchange({ impersonatedExpiresIn: 900 });
  const flow = new ImpersonationFlow(config);
  const headers = await Promise.all(Array.from({ length: 5 }, () => flow.authorization()));
  expect(headers.every((h) => h.authorization === 'Bearer user-1')).toBe(true);
  expect(await flow.authorization()).toEqual({ authorization: 'Bearer user-1' });
  expect(oauth.isDone() && sp.isDone()).toBe(true);
  expect(flow.actingAs).toBe('sub@example.com');
  expect(flow.impersonating).toBe(true);
});

test('without expires_in the impersonated token is kept 15 minutes (kube-dc’s assumption); invalidate() forgets it', async () => {
  exchange({ times: 2 });
  const flow = new ImpersonationFlow(config);
  await flow.authorization();
  await flow.authorization();
  expect(nock.pendingMocks().length).toBeGreaterThan(0);
  flow.invalidate();
  expect(await flow.authorization()).toEqual({ authorization: 'Bearer user-1' });
  expect(nock.pendingMocks()).toHaveLength(0);
});

test('the exchange steps are retried on 5xx (they create nothing), e.g. a 504 from the impersonate endpoint', async () => {
  nock('http://oauth.test').post(TOKEN_PATH).reply(200, { access_token: 'sa-1', expires_in: 300 }).post(TOKEN_PATH).reply(200, { access_token: 'rpt-1', expires_in: 300 });
  const sp = nock('http://direct.zrh.test').post('/service_provider/api/v1/user/impersonate').reply(504, {}).post('/service_provider/api/v1/user/impersonate').reply(200, { access_token: 'user-2' });
  const flow = new ImpersonationFlow({ ...config, timeoutMs: 2_000 });
  expect(await flow.authorization()).toEqual({ authorization: 'Bearer user-2' });
  expect(sp.isDone()).toBe(true);
});

test('Basic auth is the account e-mail and password', async () => {
  const auth = new BasicAuth('a@example.com', 'p:w');
  expect(await auth.authorization()).toEqual({ authorization: `Basic ${Buffer.from('a@example.com:p:w').toString('base64')}` });
  expect(auth.actingAs).toBe('a@example.com');
});
