import nock from 'nock';
import { MachineCode } from '../../../../src/driver/codes.js';
import { asMachineError } from '../../../../src/driver/errors.js';
import { CloudApiError } from '../../../../src/http/cloud-api-error.js';
import { isQuotaMessage, statusForErrorBody, VpsieBodyError } from '../../../../src/providers/vpsie/vpsie-client.js';
import { DEFAULT_API_ENDPOINT, formatMs, VpsieProvider } from '../../../../src/providers/vpsie/vpsie-provider.js';

const cls = { name: 'alpha-worker-z1', namespace: 'shoot--garden--alpha', provider: 'VPSie', providerSpec: { projectId: 42, dcIdentifier: 'dc', resourceIdentifier: 'plan', osIdentifier: 'os' } };
const secret = (extra: Record<string, string> = {}) =>
  Object.fromEntries(Object.entries({ 'api-token': 'tok-1', 'account-password': 'pw', ...extra }).map(([k, v]) => [k, Buffer.from(v)]));
const provider = (apiEndpoint: string | null = 'http://vpsie.test/apps/v2') => new VpsieProvider({ apiEndpoint: apiEndpoint ?? undefined, retry: { limit: 0 }, httpTimeoutMs: 1_000 });
const signal = () => new AbortController().signal;
const notes = 'mcm-grpc-driver: cluster=shoot--garden--alpha class=alpha-worker-z1 machine=m-1';

beforeAll(() => nock.disableNetConnect());
afterEach(() => {
  nock.cleanAll();
  delete process.env.VPSIE_API_ENDPOINT;
});
afterAll(() => nock.enableNetConnect());

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}

test('error bodies: the status they stand for', () => {
  expect(statusForErrorBody(404, 'whatever')).toBe(404);
  expect(statusForErrorBody(200, 'Invalid plan')).toBe(400);
  expect(statusForErrorBody('500', 'Invalid plan')).toBe(400);
  expect(statusForErrorBody(undefined, 'VM not found')).toBe(404);
  expect(statusForErrorBody(undefined, "Script doesn't exist")).toBe(404);
  expect(statusForErrorBody(undefined, 'Invalid token')).toBe(401);
  expect(statusForErrorBody(undefined, 'Invalid password')).toBe(403);
  expect(statusForErrorBody(undefined, 'Too many requests')).toBe(429);
  expect(statusForErrorBody(undefined, 'Please try again later')).toBe(503);
  expect(statusForErrorBody(undefined, undefined)).toBe(400);
  expect(isQuotaMessage('Insufficient balance')).toBe(true);
  expect(isQuotaMessage('VM limit reached for this account')).toBe(true);
  expect(isQuotaMessage('Quota exceeded')).toBe(true);
  expect(isQuotaMessage('Invalid plan')).toBe(false);
});

test('the token travels in the Vpsie-Auth header; HTTP 200 with an error body is an error with its message', async () => {
  nock('http://vpsie.test').matchHeader('vpsie-auth', 'tok-1').get('/apps/v2/vm').query({ projectId: '42' }).reply(200, { error: true, message: 'Invalid projectId' });
  const session = await provider().open(cls, secret(), 'create');
  const err = await failure(session.list(signal()));
  expect(err).toBeInstanceOf(VpsieBodyError);
  expect(err).toBeInstanceOf(CloudApiError);
  expect((err as CloudApiError).status).toBe(400);
  expect((err as Error).message).toBe('vpsie list vms: HTTP 200 with an error body, treated as HTTP 400: Invalid projectId');
  expect(asMachineError(err).code).toBe(MachineCode.InvalidArgument);
});

test('a body that is not VPSie’s envelope is malformed (Unavailable), never an empty list', async () => {
  nock('http://vpsie.test').get('/apps/v2/vm').query(true).reply(200, { error: false, data: 'nope' });
  const session = await provider().open(cls, secret(), 'create');
  expect(asMachineError(await failure(session.list(signal()))).code).toBe(MachineCode.Unavailable);
});

test('get: 404 is believed only when the list agrees; deleted VMs are gone', async () => {
  const listed = { identifier: 'id-1', hostname: 'm-1', notes, power: 1, is_active: 1 };
  nock('http://vpsie.test')
    .get('/apps/v2/vm/id-1').reply(404, { error: true, code: 404, message: 'VM not found' })
    .get('/apps/v2/vm').query(true).reply(200, { error: false, data: [listed], total: 1 })
    .get('/apps/v2/vm/id-2').reply(200, { error: true, message: 'VM not found' })
    .get('/apps/v2/vm').query(true).reply(200, { error: false, data: [listed], total: 1 })
    .get('/apps/v2/vm/id-3').reply(200, { error: false, data: { vmData: { identifier: 'id-3', hostname: 'm-3', is_deleted: 1 } } });
  const session = await provider().open(cls, secret(), 'create');
  expect(await session.get('vpsie://id-1', signal())).toMatchObject({ providerId: 'vpsie://id-1', machineName: 'm-1', state: 'running' });
  expect(await session.get('vpsie://id-2', signal())).toBeUndefined();
  expect(await session.get('vpsie://id-3', signal())).toBeUndefined();
  expect(nock.pendingMocks()).toHaveLength(0);
});

test('delete sends identifier, password and reason in the body; already gone is success', async () => {
  let body: unknown;
  nock('http://vpsie.test')
    .delete('/apps/v2/vm', (b: unknown) => ((body = b), true)).reply(200, { error: false })
    .delete('/apps/v2/vm').reply(404, { error: true, code: 404, message: 'VM not found' });
  const session = await provider().open(cls, secret(), 'create');
  await session.delete('vpsie://id-1', signal());
  expect(body).toEqual({ vmIdentifier: 'id-1', password: 'pw', deleteStatistic: { reason: 'no longer needed', note: expect.any(String) } });
  await expect(session.delete('vpsie://id-1', signal())).resolves.toBeUndefined();
});

test('endpoint: the Secret’s api-endpoint, else the option, else env VPSIE_API_ENDPOINT, else VPSie’s', async () => {
  expect(DEFAULT_API_ENDPOINT).toBe('https://api.vpsie.com/apps/v2');
  const empty = { error: false, data: [], total: 0 };
  process.env.VPSIE_API_ENDPOINT = 'http://env.test/apps/v2';
  nock('http://env.test').get('/apps/v2/vm').query(true).reply(200, empty);
  await (await provider(null).open(cls, secret(), 'manage')).list(signal());
  nock('http://option.test').get('/apps/v2/vm').query(true).reply(200, empty);
  await (await provider('http://option.test/apps/v2').open(cls, secret(), 'manage')).list(signal());
  nock('http://secret.test').get('/api/v2/vm').query(true).reply(200, empty);
  await (await provider('http://option.test/apps/v2').open(cls, secret({ 'api-endpoint': 'http://secret.test/api/v2' }), 'manage')).list(signal());
  expect(nock.pendingMocks()).toHaveLength(0);
});

test('durations in messages', () => {
  expect(formatMs(3_000)).toBe('3s');
  expect(formatMs(3_240)).toBe('3.2s');
  expect(formatMs(15 * 60_000)).toBe('15m0s');
  expect(formatMs(20 * 60_000 + 5_000)).toBe('20m5s');
  expect(formatMs(3 * 3_600_000 + 60_000)).toBe('3h1m0s');
});
