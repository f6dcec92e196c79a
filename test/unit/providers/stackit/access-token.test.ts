import { generateKeyPairSync } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import nock from 'nock';
import { isolateNock } from '../../nock-isolation.js';
import { ServiceAccountKeyFlow } from '../../../../src/providers/stackit/access-token.js';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privateKeyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
const credentials = { kid: 'kid-9', iss: 'sa@sa.stackit.cloud', sub: 'sub-9', aud: 'https://aud.example', privateKeyPem };

isolateNock();

test('signs an RS512 JWT with the key’s claims and caches the token; concurrent callers share one refresh', async () => {
  let assertion = '';
  const scope = nock('http://token.test')
    .post('/token', (body: Record<string, string>) => {
      assertion = body.assertion ?? '';
      return body.grant_type === 'urn:ietf:params:oauth:grant-type:jwt-bearer';
    })
    .delay(30)
    .reply(200, { access_token: 'at-1', expires_in: 3600, token_type: 'Bearer' });
  const flow = new ServiceAccountKeyFlow(credentials, 'http://token.test/token');
  const headers = await Promise.all(Array.from({ length: 5 }, () => flow.authorization()));
  expect(headers.every((h) => h.authorization === 'Bearer at-1')).toBe(true);
  expect(await flow.authorization()).toEqual({ authorization: 'Bearer at-1' });
  expect(scope.isDone()).toBe(true);
  expect(decodeProtectedHeader(assertion)).toMatchObject({ alg: 'RS512', kid: 'kid-9' });
  const claims = decodeJwt(assertion);
  expect(claims).toMatchObject({ iss: 'sa@sa.stackit.cloud', sub: 'sub-9', aud: 'https://aud.example' });
  expect(typeof claims.jti).toBe('string');
  expect(claims.exp! - claims.iat!).toBe(3600);
});

test('renews the token before it expires', async () => {
  const scope = nock('http://token.test')
    .post('/token')
    .reply(200, { access_token: 'short', expires_in: 1 })
    .post('/token')
    .reply(200, { access_token: 'next', expires_in: 3600 });
  const flow = new ServiceAccountKeyFlow(credentials, 'http://token.test/token');
  expect(await flow.authorization()).toEqual({ authorization: 'Bearer short' });
  await new Promise((r) => setTimeout(r, 600));
  expect(await flow.authorization()).toEqual({ authorization: 'Bearer next' });
  expect(scope.isDone()).toBe(true);
});

test('a failed exchange is retried (it creates nothing) and a refusal surfaces as 401', async () => {
  nock('http://token.test').post('/token').reply(503, {}).post('/token').reply(401, { error: 'invalid_grant', error_description: 'key unknown' });
  const flow = new ServiceAccountKeyFlow(credentials, 'http://token.test/token');
  await expect(flow.authorization()).rejects.toMatchObject({ status: 401, message: expect.stringContaining('key unknown') });
});
