import { MachineCode } from '../../src/driver/codes.js';
import { callError } from '../support/call-error.js';
import { ACCOUNT_PASSWORD, API_TOKEN, NAMESPACE, CLASS_NAME, PROJECT_ID, VpsieHarness, type Status } from '../support/vpsie-harness.js';

/**
 * VPSie's answers → MCM codes: its error body with any status, HTTP 200 with
 * `error: true` included (VPSie does that), through the one code table.
 */

let h: VpsieHarness;
beforeAll(async () => {
  h = await VpsieHarness.start();
});
afterAll(async () => {
  await h.close();
});
beforeEach(() => h.fake.reset());

const CREATE = { method: 'POST', path: /^\/apps\/v2\/vm$/ };
const LIST = { method: 'GET', path: /^\/apps\/v2\/vm$/ };

describe('HTTP 200 with an error body is an error', () => {
  test.each([
    [{ error: true, message: 'Invalid osIdentifier' }, MachineCode.InvalidArgument, 'Invalid osIdentifier'],
    [{ error: true, code: 403, message: 'Project not accessible' }, MachineCode.PermissionDenied, 'Project not accessible'],
    [{ error: true, message: 'Insufficient balance to create this VM' }, MachineCode.ResourceExhausted, 'Insufficient balance'],
    [{ error: true, message: 'Unauthorized: invalid token' }, MachineCode.Unauthenticated, 'invalid token'],
    [{ error: true, message: 'Datacenter not found' }, MachineCode.NotFound, 'Datacenter not found'],
    [{ error: true, code: 409, message: 'Hostname already in use' }, MachineCode.Aborted, 'Hostname already in use'],
    [{ error: true, message: 'Service temporarily unavailable, try again later' }, MachineCode.Unavailable, 'try again later'],
  ])('create answered 200 %j → code %i, the message passed on, nothing recorded', async (body, code, text) => {
    h.fake.injectFault({ ...CREATE, status: 200, body });
    const err = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-e200')));
    expect(err.code).toBe(code);
    expect(err.details).toContain(text);
    expect(err.details).toContain('HTTP 200 with an error body');
    // A refusal made nothing: no request record, so a later attempt may create.
    expect(err.response?.lastKnownState ?? '').toBe('');
    expect(h.liveVms()).toHaveLength(0);
    h.fake.clearFaults();
    const retry = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-e200'));
    expect(retry.providerId).toMatch(/^vpsie:\/\//);
    expect(h.createRequests()).toHaveLength(2);
  });

  test('a list answered 200 with an error body fails the call (it is never read as "no VMs")', async () => {
    h.fake.seedVm({ hostname: 'alpha-worker-z1-l1', projectId: PROJECT_ID, notes: `mcm-grpc-driver: cluster=${NAMESPACE} class=${CLASS_NAME} machine=alpha-worker-z1-l1` });
    h.fake.injectFault({ ...LIST, status: 200, body: { error: true, message: 'Temporarily unavailable' } });
    const err = await callError(h.client.call('ListMachines', h.listRequest()));
    expect(err.code).toBe(MachineCode.Unavailable);
    expect(err.details).toContain('HTTP 200 with an error body, treated as HTTP 503');
    h.fake.injectFault({ ...LIST, status: 200, body: { error: true, message: 'Invalid projectId' } });
    const create = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-l2')));
    expect(create.code).toBe(MachineCode.InvalidArgument);
    expect(create.details).toContain('Invalid projectId');
    expect(h.createRequests()).toHaveLength(0);
  });

  test('a wrong account password on delete (200 + error body) is PermissionDenied and the VM stays', async () => {
    const created = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-pw'));
    const err = await callError(h.client.call('DeleteMachine', h.request('alpha-worker-z1-pw', { providerID: created.providerId, secret: h.secretData({ 'account-password': 'wrong-password-canary' }) })));
    expect(err.code).toBe(MachineCode.PermissionDenied);
    expect(err.details).toContain('Invalid password');
    expect(err.details).not.toContain('wrong-password-canary');
    expect(h.liveVms()).toHaveLength(1);
  });
});

describe('HTTP statuses', () => {
  test.each([
    [400, MachineCode.InvalidArgument],
    [401, MachineCode.Unauthenticated],
    [403, MachineCode.PermissionDenied],
    [422, MachineCode.InvalidArgument],
  ])('create answered %i → code %i, nothing recorded, no VM', async (status, code) => {
    h.fake.injectFault({ ...CREATE, status, body: { error: true, code: status, message: `refused ${status}` } });
    const err = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-st')));
    expect(err.code).toBe(code);
    expect(err.details).toContain(`refused ${status}`);
    expect(err.response?.lastKnownState ?? '').toBe('');
    expect(h.liveVms()).toHaveLength(0);
  });

  test('a token VPSie does not accept ends Unauthenticated (the header is sent, never shown)', async () => {
    const err = await callError(h.client.call('GetMachineStatus', h.request('alpha-worker-z1-tok', { secret: h.secretData({ 'api-token': 'canary-token-5d1e' }) })));
    expect(err.code).toBe(MachineCode.Unauthenticated);
    expect(err.details).not.toContain('canary-token-5d1e');
    expect(h.logs.join('\n')).not.toContain('canary-token-5d1e');
  });

  test('transient 503s and a reset on reads are retried and the call succeeds', async () => {
    h.fake.injectFault({ ...LIST, status: 503, times: 2 });
    h.fake.injectFault({ method: 'GET', path: /^\/apps\/v2\/vm\/pending$/, reset: true });
    const res = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-retry'));
    expect(res.providerId).toMatch(/^vpsie:\/\//);
    expect(h.createRequests()).toHaveLength(1);
  });

  // cloud-fidelity.md F3: what `total` counts is shown by no VPSie client; the driver reads pages until a short one.
  test('a list whose total is larger than its rows does not block creates (total is not trusted; every page is read)', async () => {
    h.fake.setListTotalExtra(3);
    const res = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-part'));
    expect(res.providerId).toMatch(/^vpsie:\/\//);
    expect(h.createRequests()).toHaveLength(1);
  });
});

describe('VM states', () => {
  test('a VM VPSie suspends while starting is removed and reported Internal', async () => {
    const slow = await VpsieHarness.start({ fake: { visibleAfterMs: 50, runningAfterMs: 60_000 } });
    try {
      const pending = slow.client.call('CreateMachine', slow.request('alpha-worker-z1-susp'));
      await waitFor(() => slow.liveVms().some((v) => v.phase === 'listed'));
      slow.fake.patchVm(slow.liveVms()[0]!.identifier, { is_suspended: 1 });
      const err = await callError(pending);
      expect(err.code).toBe(MachineCode.Internal);
      expect(err.details).toContain('suspended');
      expect(JSON.parse(String(err.response?.lastKnownState))).toMatchObject({ state: 'failed' });
      await waitFor(() => slow.liveVms().length === 0);
    } finally {
      await slow.close();
    }
  }, 30_000);

  test('a VM not running within --create-timeout: DeadlineExceeded naming it, and the next call adopts it', async () => {
    const slow = await VpsieHarness.start({ fake: { runningAfterMs: 2_000 }, timings: { createTimeoutMs: 300 } });
    try {
      const err = await callError(slow.client.call('CreateMachine', slow.request('alpha-worker-z1-slowrun')));
      expect(err.code).toBe(MachineCode.DeadlineExceeded);
      const state = JSON.parse(String(err.response?.lastKnownState)) as { providerId: string };
      expect(state.providerId).toBe(`vpsie://${slow.liveVms()[0]!.identifier}`);
      await waitFor(() => slow.liveVms()[0]?.phase === 'running');
      const ok = await slow.client.call<Status>('CreateMachine', slow.request('alpha-worker-z1-slowrun', { lastKnownState: String(err.response?.lastKnownState) }));
      expect(ok.providerId).toBe(state.providerId);
      expect(slow.createRequests()).toHaveLength(1);
    } finally {
      await slow.close();
    }
  }, 30_000);

  test('a gRPC deadline ends discovery with DeadlineExceeded and the request record, and polling stops', async () => {
    const slow = await VpsieHarness.start({ fake: { visibleAfterMs: 60_000 }, provider: { discoveryCallBudgetMs: 30_000 } });
    try {
      const err = await callError(slow.client.call('CreateMachine', slow.request('alpha-worker-z1-dl'), { deadlineMs: 2_000 }));
      expect(err.code).toBe(MachineCode.DeadlineExceeded);
      expect(JSON.parse(String(err.response?.lastKnownState))).toMatchObject({ state: 'create-requested', hostname: 'alpha-worker-z1-dl' });
      await new Promise((r) => setTimeout(r, 300));
      const seen = slow.fake.requests.length;
      await new Promise((r) => setTimeout(r, 500));
      expect(slow.fake.requests.length).toBe(seen);
      expect(slow.createRequests()).toHaveLength(1);
    } finally {
      await slow.close();
    }
  }, 30_000);
});

test('no Secret value appears in any log line', async () => {
  await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-logs'));
  const status = await h.client.call<Status>('GetMachineStatus', h.request('alpha-worker-z1-logs'));
  await h.client.call('DeleteMachine', h.request('alpha-worker-z1-logs', { providerID: status.providerId }));
  const logs = h.logs.join('\n');
  expect(logs).toContain('alpha-worker-z1-logs');
  expect(logs).not.toContain(API_TOKEN);
  expect(logs).not.toContain(ACCOUNT_PASSWORD);
  expect(logs).not.toContain('canary-userdata');
});

async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
