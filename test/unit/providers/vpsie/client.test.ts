import nock from 'nock';
import { isolateNock } from '../../nock-isolation.js';
import { MachineCode } from '../../../../src/driver/codes.js';
import { asMachineError } from '../../../../src/driver/errors.js';
import { CloudApiError } from '../../../../src/http/cloud-api-error.js';
import { isQuotaMessage, meansGone, statusForErrorBody, VpsieBodyError } from '../../../../src/providers/vpsie/vpsie-client.js';
import { DEFAULT_API_ENDPOINT, flagEncodingOf, VPSIE_CSI_DRIVER, VpsieProvider } from '../../../../src/providers/vpsie/vpsie-provider.js';
import { listed } from '../../../support/listed.js';

const cls = { name: 'alpha-worker-z1', namespace: 'shoot--garden--alpha', provider: 'VPSie', providerSpec: { projectId: 42, dcIdentifier: 'dc', resourceIdentifier: 'plan', osIdentifier: 'os' } };
const secret = (extra: Record<string, string> = {}) =>
  Object.fromEntries(Object.entries({ 'api-token': 'tok-1', 'account-password': 'pw', ...extra }).map(([k, v]) => [k, Buffer.from(v)]));
const provider = (apiEndpoint: string | null = 'http://vpsie.test/apps/v2') => new VpsieProvider({ apiEndpoint: apiEndpoint ?? undefined, retry: { limit: 0 }, httpTimeoutMs: 1_000 });
const signal = () => new AbortController().signal;
const notes = 'mcm-grpc-driver: cluster=shoot--garden--alpha class=alpha-worker-z1 machine=m-1';

isolateNock();
afterEach(() => {
  delete process.env.VPSIE_API_ENDPOINT;
});

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
  nock('http://vpsie.test').matchHeader('vpsie-auth', 'tok-1').get('/apps/v2/vm').query({ projectId: '42', offset: '0', limit: '1000' }).reply(200, { error: true, message: 'Invalid projectId' });
  const session = await provider().open(cls, secret(), 'create');
  const err = await failure(listed(session.list(signal())));
  expect(err).toBeInstanceOf(VpsieBodyError);
  expect(err).toBeInstanceOf(CloudApiError);
  expect((err as CloudApiError).status).toBe(400);
  expect((err as Error).message).toBe('vpsie list vms: HTTP 200 with an error body, treated as HTTP 400: Invalid projectId');
  expect(asMachineError(err).code).toBe(MachineCode.InvalidArgument);
});

test('a body that is not VPSie’s envelope is malformed (Unavailable), never an empty list', async () => {
  nock('http://vpsie.test').get('/apps/v2/vm').query(true).reply(200, { error: false, data: 'nope' });
  const session = await provider().open(cls, secret(), 'create');
  expect(asMachineError(await failure(listed(session.list(signal())))).code).toBe(MachineCode.Unavailable);
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
  await expect(session.delete('vpsie://id-1', signal())).resolves.toBe('requested');
});

test('endpoint: the Secret’s api-endpoint, else the option, else env VPSIE_API_ENDPOINT, else VPSie’s', async () => {
  expect(DEFAULT_API_ENDPOINT).toBe('https://api.vpsie.com/api/v2');
  const empty = { error: false, data: [], total: 0 };
  process.env.VPSIE_API_ENDPOINT = 'http://env.test/apps/v2';
  nock('http://env.test').get('/apps/v2/vm').query(true).reply(200, empty);
  await listed((await provider(null).open(cls, secret(), 'manage')).list(signal()));
  nock('http://option.test').get('/apps/v2/vm').query(true).reply(200, empty);
  await listed((await provider('http://option.test/apps/v2').open(cls, secret(), 'manage')).list(signal()));
  nock('http://secret.test').get('/api/v2/vm').query(true).reply(200, empty);
  await listed((await provider('http://option.test/apps/v2').open(cls, secret({ 'api-endpoint': 'http://secret.test/api/v2' }), 'manage')).list(signal()));
  expect(nock.pendingMocks()).toHaveLength(0);
});

// VP-GO Do drops the status (errors.New(errRsp.Message)); VP-TF Read: strings.Contains(err.Error(), "not found").
test('"gone" is a 404 or any 4xx whose message says not found; nothing else ever is', () => {
  const http = (status: number, cloudMessage?: string) => new CloudApiError('vpsie', 'get vm', 'http', { status, cloudMessage });
  expect(meansGone(http(404))).toBe(true);
  expect(meansGone(http(400, 'VM not found'))).toBe(true);
  expect(meansGone(http(410, 'Server does not exist'))).toBe(true);
  expect(meansGone(http(422, 'no such vm'))).toBe(true);
  expect(meansGone(new VpsieBodyError('get vm', 404, 'VM not found', undefined, false))).toBe(true);
  expect(meansGone(http(400, 'Invalid identifier'))).toBe(false);
  expect(meansGone(http(401, 'token not found'))).toBe(false);
  expect(meansGone(http(403, 'permission not found'))).toBe(false);
  expect(meansGone(http(429, 'not found'))).toBe(false);
  expect(meansGone(http(500))).toBe(false);
  expect(meansGone(new CloudApiError('vpsie', 'get vm', 'timeout'))).toBe(false);
  expect(meansGone(new CloudApiError('vpsie', 'get vm', 'malformed', { status: 200 }))).toBe(false);
});

test('get and delete: a non-404 "not found" answer is gone (the list agreeing); a 400 with another message is an error', async () => {
  nock('http://vpsie.test')
    .get('/apps/v2/vm/id-9').reply(400, { error: true, code: 400, message: 'VM not found' })
    .get('/apps/v2/vm').query(true).reply(200, { error: false, data: [], total: 0 })
    .delete('/apps/v2/vm').reply(422, { error: true, message: 'Server not found' })
    .get('/apps/v2/vm/id-8').reply(400, { error: true, message: 'Invalid request' })
    .delete('/apps/v2/vm').reply(400, { error: true, message: 'Invalid request' });
  const session = await provider().open(cls, secret(), 'create');
  expect(await session.get('vpsie://id-9', signal())).toBeUndefined();
  await expect(session.delete('vpsie://id-9', signal())).resolves.toBe('requested');
  expect(asMachineError(await failure(session.get('vpsie://id-8', signal()))).code).toBe(MachineCode.InvalidArgument);
  expect(asMachineError(await failure(session.delete('vpsie://id-8', signal()))).code).toBe(MachineCode.InvalidArgument);
  expect(nock.pendingMocks()).toHaveLength(0);
});

test('lists read every page (offset/limit 1000); an empty page, or a short one total does not contradict, ends the list; total never blocks it', async () => {
  const row = (i: number) => ({ identifier: `id-${i}`, hostname: `m-${i}`, notes: notes.replace('m-1', `m-${i}`), power: 1, is_active: 1 });
  const page = (from: number, n: number) => Array.from({ length: n }, (_, k) => row(from + k));
  nock('http://vpsie.test')
    .get('/apps/v2/vm').query({ projectId: '42', offset: '0', limit: '1000' }).reply(200, { error: false, data: page(0, 1000), total: 5 })
    .get('/apps/v2/vm').query({ projectId: '42', offset: '1000', limit: '1000' }).reply(200, { error: false, data: page(1000, 3), total: 99999 })
    // A short page whose total claims more (a server that caps pages) is read on; an empty page ends it.
    .get('/apps/v2/vm').query({ projectId: '42', offset: '1003', limit: '1000' }).reply(200, { error: false, data: [], total: 99999 });
  const session = await provider().open(cls, secret(), 'create');
  expect(await listed(session.list(signal()))).toHaveLength(1003);
  expect(nock.pendingMocks()).toHaveLength(0);
});

test('flag encoding follows the VM path: numbers on /apps/v2, strings on /api/v2', () => {
  expect(flagEncodingOf('https://api.vpsie.com/apps/v2')).toBe('number');
  expect(flagEncodingOf('https://api.vpsie.com/apps/v2/')).toBe('number');
  expect(flagEncodingOf('https://api.vpsie.com/api/v2')).toBe('string');
});

// vpsieinc/vpsie-csi driver.go: DefaultDriverName = "vpsie.csi.vpsie.com"; volumeHandle = storage identifier.
test('GetVolumeIDs: PVs of VPSie’s CSI driver give their volume handle; others none', () => {
  const p = provider();
  expect(VPSIE_CSI_DRIVER).toBe('vpsie.csi.vpsie.com');
  expect(p.volumeId({ csi: { driver: 'vpsie.csi.vpsie.com', volumeHandle: 'c3f1-storage-id' } })).toBe('c3f1-storage-id');
  expect(p.volumeId({ csi: { driver: 'other.csi.example.com', volumeHandle: 'x' } })).toBeUndefined();
  expect(p.volumeId({ csi: { driver: 'vpsie.csi.vpsie.com', volumeHandle: '' } })).toBeUndefined();
  expect(p.volumeId({ nfs: { server: 'x' } })).toBeUndefined();
});
