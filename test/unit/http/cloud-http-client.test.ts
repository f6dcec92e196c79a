import nock from 'nock';
import { isolateNock } from '../nock-isolation.js';
import { CloudApiError } from '../../../src/http/cloud-api-error.js';
import { CloudHttpClient } from '../../../src/http/cloud-http-client.js';
import { machineCodeFor } from '../../../src/http/error-mapping.js';
import { MachineCode } from '../../../src/driver/codes.js';

const BASE = 'http://cloud.test';

function client(overrides: Partial<ConstructorParameters<typeof CloudHttpClient>[0]> = {}) {
  return new CloudHttpClient({
    cloud: 'test',
    baseUrl: BASE,
    timeoutMs: 200,
    retry: { limit: 3, baseDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 2_000 },
    errorMessage: (b) => (b as { msg?: string }).msg,
    isQuota: (_s, m) => /quota/i.test(m ?? ''),
    authorize: async () => ({ authorization: 'Bearer secret-token-value' }),
    ...overrides,
  });
}

async function failure(p: Promise<unknown>): Promise<CloudApiError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof CloudApiError) return err;
    throw err;
  }
  throw new Error('expected a failure');
}

isolateNock();

describe('CloudHttpClient retries', () => {
  test('retries a GET on 503 and succeeds', async () => {
    const scope = nock(BASE).get('/items').times(2).reply(503, {}).get('/items').reply(200, { ok: true });
    const res = await client().request<{ ok: boolean }>({ operation: 'list', method: 'GET', path: '/items' });
    expect(res.body).toEqual({ ok: true });
    expect(scope.isDone()).toBe(true);
  });

  test('never repeats a POST, even on 503', async () => {
    const scope = nock(BASE).post('/servers').reply(503, { msg: 'busy' });
    const err = await failure(client().request({ operation: 'create', method: 'POST', path: '/servers', json: {} }));
    expect(err.status).toBe(503);
    expect(scope.isDone()).toBe(true);
    expect(nock.pendingMocks()).toHaveLength(0);
  });

  test('honours Retry-After on 429', async () => {
    nock(BASE).get('/items').reply(429, {}, { 'retry-after': '1' }).get('/items').reply(200, { ok: 1 });
    const started = Date.now();
    await client().request({ operation: 'list', method: 'GET', path: '/items' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  test('gives up after the retry limit on repeated 500', async () => {
    const scope = nock(BASE).get('/items').times(4).reply(500, { msg: 'internal detail that must not leak' });
    const err = await failure(client().request({ operation: 'list', method: 'GET', path: '/items' }));
    expect(scope.isDone()).toBe(true);
    expect(err.status).toBe(500);
    expect(err.message).not.toContain('internal detail');
    expect(machineCodeFor(err)).toBe(MachineCode.Unavailable);
  });

  test('readServerErrorBodies: a 5xx capacity body is ResourceExhausted with its message; any other 5xx body is still dropped', async () => {
    nock(BASE).post('/servers').reply(503, { msg: 'quota of the location reached' });
    const capacity = await failure(client({ readServerErrorBodies: true }).request({ operation: 'create', method: 'POST', path: '/servers', json: {} }));
    expect(machineCodeFor(capacity)).toBe(MachineCode.ResourceExhausted);
    expect(capacity.message).toContain('quota of the location reached');
    nock(BASE).post('/servers').reply(503, { msg: 'echoed input secret-xyz' });
    const other = await failure(client({ readServerErrorBodies: true }).request({ operation: 'create', method: 'POST', path: '/servers', json: {} }));
    expect(machineCodeFor(other)).toBe(MachineCode.Unavailable);
    expect(other.fields.cloudMessage).toBeUndefined();
    expect(other.message).not.toContain('secret-xyz');
    // Without the option a 5xx body is never read.
    nock(BASE).post('/servers').reply(503, { msg: 'quota of the location reached' });
    const off = await failure(client().request({ operation: 'create', method: 'POST', path: '/servers', json: {} }));
    expect(machineCodeFor(off)).toBe(MachineCode.Unavailable);
  });

  // Connection resets are exercised against the stateful fake (integration), where a real socket is destroyed.
  test('retries a DELETE after a 502', async () => {
    const scope = nock(BASE).delete('/servers/1').reply(502, {}).delete('/servers/1').reply(200, {});
    const res = await client().request({ operation: 'delete', method: 'DELETE', path: '/servers/1' });
    expect(res.status).toBe(200);
    expect(scope.isDone()).toBe(true);
  });
});

describe('CloudHttpClient errors', () => {
  test.each([
    [400, MachineCode.InvalidArgument],
    [401, MachineCode.Unauthenticated],
    [403, MachineCode.PermissionDenied],
    [404, MachineCode.NotFound],
    [409, MachineCode.Aborted],
    [422, MachineCode.InvalidArgument],
  ])('HTTP %i maps to MCM code %i and carries the 4xx message and request id', async (status, code) => {
    nock(BASE).post('/x').reply(status, { msg: 'the cloud says no' }, { 'x-request-id': 'req-42' });
    const err = await failure(client().request({ operation: 'create', method: 'POST', path: '/x', json: {} }));
    expect(machineCodeFor(err)).toBe(code);
    expect(err.message).toContain('the cloud says no');
    expect(err.message).toContain('req-42');
    expect(err.retryable).toBe(false);
  });

  test('a quota message makes ResourceExhausted', async () => {
    nock(BASE).post('/x').reply(403, { msg: 'Quota exceeded for vCPU' });
    const err = await failure(client().request({ operation: 'create', method: 'POST', path: '/x', json: {} }));
    expect(machineCodeFor(err)).toBe(MachineCode.ResourceExhausted);
  });

  // 'a timeout is DeadlineExceeded' is in cloud-http-client-timeout.test.ts, against a real socket.

  test('a body that is not JSON is a malformed answer, Unavailable', async () => {
    nock(BASE).get('/x').reply(200, '<html>gateway</html>');
    const err = await failure(client().request({ operation: 'get', method: 'GET', path: '/x' }));
    expect(err.kind).toBe('malformed');
    expect(machineCodeFor(err)).toBe(MachineCode.Unavailable);
  });

  test('an aborted signal stops the request and reports canceled', async () => {
    nock(BASE).get('/x').delay(1000).reply(200, {});
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    const err = await failure(client({ timeoutMs: 5000 }).request({ operation: 'get', method: 'GET', path: '/x', signal: controller.signal }));
    expect(err.kind).toBe('canceled');
  });

  test('sends the authorization header but never puts it into an error', async () => {
    nock(BASE, { reqheaders: { authorization: 'Bearer secret-token-value' } }).get('/x').reply(401, { msg: 'Unauthorized' });
    const err = await failure(client().request({ operation: 'get', method: 'GET', path: '/x' }));
    expect(err.status).toBe(401);
    expect(JSON.stringify(err)).not.toContain('secret-token-value');
    expect(err.message).not.toContain('secret-token-value');
  });
});

describe('CloudHttpClient fixed headers', () => {
  test('a static credential given as headers goes on every attempt, and a 401 is not re-sent', async () => {
    const scope = nock(BASE, { reqheaders: { authorization: 'Bearer static-token-value' } })
      .get('/x').reply(503, {})
      .get('/x').reply(200, { ok: true })
      .get('/y').once().reply(401, { msg: 'Unauthorized' });
    const c = client({ authorize: undefined, headers: { authorization: 'Bearer static-token-value' } });
    expect((await c.request<{ ok: boolean }>({ operation: 'get', method: 'GET', path: '/x' })).body).toEqual({ ok: true });
    const err = await failure(c.request({ operation: 'get', method: 'GET', path: '/y' }));
    expect(err.status).toBe(401);
    expect(err.message).not.toContain('static-token-value');
    expect(scope.isDone()).toBe(true);
  });
});

describe('CloudHttpClient bounds', () => {
  test('a response larger than the limit is refused as ResourceExhausted, not buffered', async () => {
    nock(BASE).get('/huge').reply(200, JSON.stringify({ items: 'x'.repeat(200_000) }));
    const err = await failure(client({ maxResponseBytes: 50_000 }).request({ operation: 'list', method: 'GET', path: '/huge' }));
    expect(err.kind).toBe('too-large');
    expect(machineCodeFor(err)).toBe(MachineCode.ResourceExhausted);
    expect(err.message).toContain('limit');
  });

  test('a response under the limit is read', async () => {
    nock(BASE).get('/small').reply(200, { items: 'x'.repeat(1_000) });
    const res = await client({ maxResponseBytes: 50_000 }).request<{ items: string }>({ operation: 'list', method: 'GET', path: '/small' });
    expect(res.body.items).toHaveLength(1_000);
  });
});
