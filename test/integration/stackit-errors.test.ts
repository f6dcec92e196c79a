import { generateKeyPairSync } from 'node:crypto';
import { MachineCode } from '../../src/driver/codes.js';
import { PROJECT_ID, REGION, StackitHarness } from '../support/stackit-harness.js';
import { callError } from '../support/call-error.js';

let h: StackitHarness;
beforeAll(async () => {
  h = await StackitHarness.start();
});
afterAll(async () => {
  await h.close();
});
beforeEach(async () => {
  h.fake.reset();
  await h.useDefaults();
});

const CREATE = { method: 'POST', path: /\/servers$/ };

describe('cloud answers → MCM codes (the README table)', () => {
  test.each([
    [400, { code: 400, msg: 'machine type is not valid' }, MachineCode.InvalidArgument, 'machine type is not valid'],
    [401, { code: 401, msg: 'Unauthorized' }, MachineCode.Unauthenticated, 'Unauthorized'],
    [403, { code: 403, msg: 'Forbidden' }, MachineCode.PermissionDenied, 'Forbidden'],
    [404, { code: 404, msg: 'network not found' }, MachineCode.NotFound, 'network not found'],
    [400, { code: 400, msg: 'quota exceeded for vCPU' }, MachineCode.ResourceExhausted, 'quota exceeded'],
  ])('create answered %i %j → MCM code %i with the cloud message', async (status, body, code, text) => {
    h.fake.injectFault({ ...CREATE, status, body });
    const err = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-err')));
    expect(err.code).toBe(code);
    expect(err.details).toContain(text);
    expect(h.liveServers()).toHaveLength(0);
  });

  test('a 500 on create is Unavailable, without the cloud body, and not repeated', async () => {
    h.fake.injectFault({ ...CREATE, status: 500, body: { code: 500, msg: 'stack trace with internals' } });
    const err = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-500')));
    expect(err.code).toBe(MachineCode.Unavailable);
    expect(err.details).not.toContain('stack trace');
    expect(h.createRequests()).toHaveLength(1);
  });

  test('transient 503s and 429 with Retry-After on reads are retried and the call succeeds', async () => {
    h.fake.injectFault({ method: 'GET', path: /\/servers$/, status: 503, times: 2 });
    h.fake.injectFault({ method: 'GET', path: /\/servers$/, status: 429, headers: { 'retry-after': '1' } });
    const res = await h.client.call<{ providerId: string }>('CreateMachine', h.request('alpha-worker-z1-retry'));
    expect(res.providerId).toMatch(/^stackit:/);
    expect(h.liveServers()).toHaveLength(1);
  });

  test('a connection reset on a read is retried', async () => {
    h.fake.injectFault({ method: 'GET', path: /\/servers$/, reset: true });
    const list = await h.client.call<{ machineList: object }>('ListMachines', h.listRequest());
    expect(list.machineList).toEqual({});
  });

  test('reads failing beyond the retry budget end Unavailable, and ListMachines reports it', async () => {
    h.fake.injectFault({ method: 'GET', path: /\/servers$/, status: 502, times: 50 });
    const err = await callError(h.client.call('ListMachines', h.listRequest()));
    expect(err.code).toBe(MachineCode.Unavailable);
    const gets = h.fake.requests.filter((r) => r.method === 'GET').length;
    expect(gets).toBe(5); // 1 attempt + 4 retries (the default budget)
  });

  test('a server in ERROR is removed and reported Internal with its errorMessage', async () => {
    h.fake.setTiming({ activeAfterMs: 60_000 });
    const pending = h.client.call('CreateMachine', h.request('alpha-worker-z1-broken'));
    await waitFor(() => h.liveServers().length === 1);
    h.fake.setServerStatus(h.liveServers()[0]!.id, 'ERROR', 'hypervisor exploded');
    const err = await callError(pending);
    expect(err.code).toBe(MachineCode.Internal);
    expect(err.details).toContain('hypervisor exploded');
    expect(JSON.parse(String(err.response?.lastKnownState))).toMatchObject({ state: 'failed' });
    await waitFor(() => h.liveServers().length === 0);
  });

  test('a server in ERROR for lack of capacity is ResourceExhausted', async () => {
    const seeded = h.fake.seedServer({
      projectId: PROJECT_ID,
      region: REGION,
      name: 'alpha-worker-z1-full',
      status: 'ERROR',
      errorMessage: 'No valid host was found. There are not enough hosts available.',
      labels: { 'kubernetes.io/machine': 'alpha-worker-z1-full', 'kubernetes.io/machineclass': 'alpha-worker-z1', 'mcm-grpc-driver.io/cluster': 'shoot--garden--alpha' },
    });
    const err = await callError(h.client.call('GetMachineStatus', h.request('alpha-worker-z1-full', { providerID: `stackit://${PROJECT_ID}/${seeded.id}` })));
    expect(err.code).toBe(MachineCode.ResourceExhausted);
  });

  test('a server that is not ACTIVE in time: DeadlineExceeded, lastKnownState names it, the next call adopts it', async () => {
    h.fake.setTiming({ activeAfterMs: 1_500 });
    await h.use({ timings: { createTimeoutMs: 300 } });
    const err = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-slow')));
    expect(err.code).toBe(MachineCode.DeadlineExceeded);
    const state = JSON.parse(String(err.response?.lastKnownState)) as { providerId: string };
    expect(state.providerId).toContain(h.liveServers()[0]!.id);
    await waitFor(() => h.liveServers()[0]?.status === 'ACTIVE', 5_000);
    const ok = await h.client.call<{ providerId: string }>('CreateMachine', h.request('alpha-worker-z1-slow'));
    expect(ok.providerId).toBe(state.providerId);
    expect(h.createRequests()).toHaveLength(1);
  });
});

describe('cancellation and deadlines stop the cloud work', () => {
  test('a gRPC deadline ends the call with DeadlineExceeded and polling stops', async () => {
    h.fake.setTiming({ activeAfterMs: 60_000 });
    const err = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-dl'), { deadlineMs: 1_500 }));
    expect(err.code).toBe(MachineCode.DeadlineExceeded);
    await new Promise((r) => setTimeout(r, 300));
    const seen = h.fake.requests.length;
    await new Promise((r) => setTimeout(r, 500));
    expect(h.fake.requests.length).toBe(seen);
    expect(h.liveServers()).toHaveLength(1);
  });
});

describe('service-account key flow', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const key = (kid: string) =>
    JSON.stringify({ id: kid, credentials: { kid, iss: 'sa@sa.stackit.cloud', sub: kid, aud: 'https://stackit-service-account-prod.apps.01.cf.eu01.stackit.cloud', privateKey: privateKeyPem } });
  // One fake that trusts only kid-1 (no static token) for both tests: the first one counts the tokens it issues.
  let kf: StackitHarness;
  beforeAll(async () => {
    kf = await StackitHarness.start({ fake: { trustedKeys: [{ kid: 'kid-1', publicKeyPem }], staticTokens: [] } });
  });
  afterAll(() => kf.close());

  test('a signed JWT is exchanged for a token, cached, and shared by concurrent calls', async () => {
    const secret = kf.secretData({ token: undefined, 'serviceaccount.json': key('kid-1') });
    await Promise.all(Array.from({ length: 10 }, (_, i) => kf.client.call('CreateMachine', kf.request(`alpha-worker-z1-kf${i}`, { secret }))));
    await kf.client.call('ListMachines', kf.listRequest({ secret }));
    expect(kf.liveServers()).toHaveLength(10);
    expect(kf.fake.tokensIssued).toBe(1);
    expect(kf.logs.join('\n')).not.toContain('BEGIN PRIVATE KEY');
  });

  test('a key the token endpoint does not trust ends Unauthenticated', async () => {
    const secret = kf.secretData({ token: undefined, 'serviceaccount.json': key('kid-unknown') });
    const err = await callError(kf.client.call('GetMachineStatus', kf.request('alpha-worker-z1-kf', { secret })));
    expect(err.code).toBe(MachineCode.Unauthenticated);
    expect(err.details).not.toContain('PRIVATE KEY');
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
