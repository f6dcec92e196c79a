import { MachineCode } from '../../src/driver/codes.js';
import { callError } from '../support/call-error.js';
import { BASE_SPEC, McmMachine, VpsieHarness, describeStep, type Status } from '../support/vpsie-harness.js';

/**
 * VPSie's create answers no VM id; the VM shows up later, first in the
 * pending view. These tests make VPSie slower than one call's budget (1.5 s
 * in the harness) and check that the driver never sends a second create,
 * hands MCM a request record as lastKnownState, and gives up clearly after
 * the discovery timeout.
 */

const record = (hostname: string, agoMs: number) =>
  JSON.stringify({ state: 'create-requested', hostname, requestedAt: new Date(Date.now() - agoMs).toISOString() });

function parseState(s: unknown): { state: string; hostname: string; requestedAt: string } {
  return JSON.parse(String(s)) as { state: string; hostname: string; requestedAt: string };
}

describe('visibility slower than a call (fake behind Prism)', () => {
  let h: VpsieHarness;
  // Invisible for 5 s, pending until 9 s, then listed: with a 1.5 s budget per call, the first two
  // CreateMachine calls see nothing at all (3.5 s of margin for a loaded machine).
  beforeAll(async () => {
    h = await VpsieHarness.start({ fake: { pendingAfterMs: 5_000, visibleAfterMs: 9_000, runningAfterMs: 50 } });
  });
  afterAll(async () => {
    await h.close();
  });
  beforeEach(() => h.fake.reset());

  test('MCM call order: the second CreateMachine discovers with the lastKnownState, never creates again; the VM is adopted', async () => {
    const m = new McmMachine(h, 'alpha-worker-z1-slow1');
    const status = await m.untilAdopted(80, 100);
    const trace = m.steps.map(describeStep).join(' | ');

    expect(h.createRequests()).toHaveLength(1);
    expect(h.liveVms()).toHaveLength(1);
    expect(status.providerId).toBe(`vpsie://${h.liveVms()[0]!.identifier}`);

    const creates = m.steps.filter((s) => s.call === 'CreateMachine');
    expect(creates.length).toBeGreaterThanOrEqual(2);
    const [first, second] = creates;
    // The first call sent the create, ran out of budget and handed MCM the request record.
    expect(first!.ok).toBe(false);
    if (first!.ok) throw new Error(trace);
    expect(first!.error.code).toBe(MachineCode.Unavailable);
    expect(first!.error.details).toContain('does not create another');
    const lks = parseState(first!.error.response?.lastKnownState);
    expect(lks).toMatchObject({ state: 'create-requested', hostname: 'alpha-worker-z1-slow1' });
    // The second call came back with it (MCM keeps it for Unavailable) and discovered instead of creating.
    expect(second!.sentLastKnownState).toBe(first!.error.response?.lastKnownState);
    expect(second!.createRequestsAfter).toBe(1);
    // MCM never lost the record while the VM was not listed.
    for (const s of creates.slice(1)) expect(s.sentLastKnownState).toBe(first!.error.response?.lastKnownState);
  }, 60_000);

  test('20 concurrent CreateMachine calls for one Machine: one create request, one VM', async () => {
    const name = 'alpha-worker-z1-race1';
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => h.client.call<Status>('CreateMachine', h.request(name))));
    // VPSie is slower than the call: every caller shares the one execution's Unavailable and record.
    const states = new Set(results.map((r) => (r.status === 'rejected' ? String((r.reason as { response?: { lastKnownState?: string } }).response?.lastKnownState) : 'ok')));
    expect(states.size).toBe(1);
    expect(h.createRequests()).toHaveLength(1);
    const m = new McmMachine(h, name);
    m.lastKnownState = [...states][0]!;
    await Promise.all(Array.from({ length: 5 }, () => m.untilAdopted(80, 100)));
    expect(h.createRequests()).toHaveLength(1);
    expect(h.liveVms()).toHaveLength(1);
  }, 60_000);

  test('MCM cleared lastKnownState: the sidecar still remembers the request and does not create again', async () => {
    const name = 'alpha-worker-z1-clear';
    const first = await callError(h.client.call('CreateMachine', h.request(name)));
    expect(first.code).toBe(MachineCode.Unavailable);
    // E.g. a GetMachineStatus answered Unauthenticated in between: MCM clears the stored value.
    const second = await callError(h.client.call('CreateMachine', h.request(name, { lastKnownState: '' })));
    expect(second.code).toBe(MachineCode.Unavailable);
    expect(h.createRequests()).toHaveLength(1);
    expect(parseState(second.response?.lastKnownState).requestedAt).toBe(parseState(first.response?.lastKnownState).requestedAt);
  }, 30_000);

  test('a stale lastKnownState of another kind is replaced: the error becomes Internal so MCM stores the request record', async () => {
    const name = 'alpha-worker-z1-stale';
    const stale = JSON.stringify({ providerId: 'vpsie://gone-vm-1', state: 'failed' });
    const err = await callError(h.client.call('CreateMachine', h.request(name, { lastKnownState: stale })));
    expect(err.code).toBe(MachineCode.Internal);
    expect(err.details).toContain('replaces');
    expect(parseState(err.response?.lastKnownState)).toMatchObject({ state: 'create-requested', hostname: name });
    expect(h.createRequests()).toHaveLength(1);
  }, 30_000);
});

describe('pending view (fake behind Prism)', () => {
  let h: VpsieHarness;
  // Pending at once, listed after 2.5 s: a lookup waits for the listing within its budget.
  beforeAll(async () => {
    h = await VpsieHarness.start({ fake: { pendingAfterMs: 0, visibleAfterMs: 2_500 } });
  });
  afterAll(async () => {
    await h.close();
  });
  beforeEach(() => h.fake.reset());

  test('a VM only in the pending view: GetMachineStatus is Unavailable (never NotFound) and then adopts it once listed', async () => {
    const name = 'alpha-worker-z1-pend1';
    const first = await callError(h.client.call('CreateMachine', h.request(name)));
    expect(first.code).toBe(MachineCode.Unavailable);
    expect(first.details).toContain('pending view');
    let status: Status | undefined;
    for (let i = 0; i < 10 && !status; i++) {
      try {
        status = await h.client.call<Status>('GetMachineStatus', h.request(name, { lastKnownState: String(first.response?.lastKnownState) }));
      } catch (err) {
        expect((err as { code: number }).code).toBe(MachineCode.Unavailable);
        expect((err as { details: string }).details).toContain('pending view');
      }
    }
    expect(status?.providerId).toBe(`vpsie://${h.liveVms()[0]!.identifier}`);
    expect(h.createRequests()).toHaveLength(1);
  }, 30_000);

  test('a pending VM of ours nobody remembers (lastKnownState cleared, sidecar restarted) is not created again', async () => {
    const name = 'alpha-worker-z1-pend2';
    h.fake.seedPending({ hostname: name, projectId: BASE_SPEC.projectId, tags: [`mcm-cluster:shoot--garden--alpha`, `mcm-class:alpha-worker-z1`, `mcm-machine:${name}`] });
    const err = await callError(h.client.call('CreateMachine', h.request(name)));
    expect(err.code).toBe(MachineCode.Unavailable);
    expect(err.details).toContain('pending view');
    expect(h.createRequests()).toHaveLength(0);
  }, 30_000);
});

describe('lost and timed-out create answers', () => {
  let h: VpsieHarness;
  beforeAll(async () => {
    // The call budget is long enough to see a VM made 1 s after a timed-out request.
    h = await VpsieHarness.start({ httpTimeoutMs: 600, fake: { visibleAfterMs: 300 }, provider: { discoveryCallBudgetMs: 4_000 } });
  });
  afterAll(async () => {
    await h.close();
  });
  beforeEach(() => h.fake.reset());

  test('a create whose answer is lost (Prism reports 500) is not repeated; the same call discovers the VM', async () => {
    h.fake.injectFault({ method: 'POST', path: /^\/apps\/v2\/vm$/, afterSuccess: 'drop' });
    const created = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-lost1'));
    expect(h.createRequests()).toHaveLength(1);
    expect(h.liveVms()).toHaveLength(1);
    expect(created.providerId).toBe(`vpsie://${h.liveVms()[0]!.identifier}`);
  }, 30_000);

  test('a create that times out is not repeated; the VM VPSie made anyway is discovered', async () => {
    h.fake.injectFault({ method: 'POST', path: /^\/apps\/v2\/vm$/, delayMs: 1_000 });
    const created = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-lost2'));
    expect(h.createRequests()).toHaveLength(1);
    expect(created.providerId).toBe(`vpsie://${h.liveVms()[0]!.identifier}`);
  }, 30_000);

  test('a 5xx on create is ambiguous: no second request, Unavailable with the record when nothing shows up', async () => {
    h.fake.injectFault({ method: 'POST', path: /^\/apps\/v2\/vm$/, status: 502, body: { error: true, code: 502, message: 'upstream stack trace' } });
    const err = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-5xx')));
    expect(err.code).toBe(MachineCode.Unavailable);
    expect(err.details).not.toContain('stack trace');
    expect(parseState(err.response?.lastKnownState).hostname).toBe('alpha-worker-z1-5xx');
    const again = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-5xx', { lastKnownState: String(err.response?.lastKnownState) })));
    expect(again.code).toBe(MachineCode.Unavailable);
    expect(h.createRequests()).toHaveLength(1);
  }, 30_000);
});

describe('discovery timeout', () => {
  let h: VpsieHarness;
  beforeAll(async () => {
    h = await VpsieHarness.start();
  });
  afterAll(async () => {
    await h.close();
  });
  beforeEach(() => h.fake.reset());

  test('a request recorded 20 minutes ago with nothing visible: Internal naming the hostname and the time waited, no create', async () => {
    const name = 'alpha-worker-z1-tmo1';
    const lks = record(name, 20 * 60_000);
    const err = await callError(h.client.call('CreateMachine', h.request(name, { lastKnownState: lks })));
    expect(err.code).toBe(MachineCode.Internal);
    expect(err.details).toContain(`hostname ${name}`);
    expect(err.details).toMatch(/20m\ds after the create request/);
    expect(err.details).toContain('discovery timeout 15m0s');
    expect(err.details).toContain('does not send another create request');
    expect(err.details).not.toMatch(/[[\]]/);
    // Kept for MCM (Internal makes MCM store the response's value): the next call says the same.
    expect(err.response?.lastKnownState).toBe(lks);
    expect(h.createRequests()).toHaveLength(0);
  });

  test('a create VPSie accepts but never carries out: Unavailable within the timeout, then Internal, one request in all', async () => {
    const spec = { ...BASE_SPEC, discovery: { timeout: '3s' } };
    h.fake.injectFault({ method: 'POST', path: /^\/apps\/v2\/vm$/, status: 200, body: { error: false, message: 'VM creation started' } });
    const m = new McmMachine(h, 'alpha-worker-z1-tmo2');
    const errors: Array<{ code: number; details: string }> = [];
    for (let i = 0; i < 10; i++) {
      const sent = m.lastKnownState;
      const err = await callError(h.client.call('CreateMachine', h.request(m.name, { spec, lastKnownState: sent })));
      errors.push(err);
      if (!m.lastKnownState || err.code !== MachineCode.Unavailable) m.lastKnownState = String(err.response?.lastKnownState ?? '');
      if (err.code === MachineCode.Internal) break;
    }
    expect(errors[0]!.code).toBe(MachineCode.Unavailable);
    expect(errors.at(-1)!.code).toBe(MachineCode.Internal);
    expect(errors.at(-1)!.details).toContain('discovery timeout 3s');
    expect(h.createRequests()).toHaveLength(1);
    // Still no second request afterwards.
    const again = await callError(h.client.call('CreateMachine', h.request(m.name, { spec, lastKnownState: m.lastKnownState })));
    expect(again.code).toBe(MachineCode.Internal);
    expect(h.createRequests()).toHaveLength(1);
  }, 60_000);

  test('with discovery.recreateAfterTimeout, a timed-out request with nothing visible is replaced by one new request', async () => {
    const name = 'alpha-worker-z1-tmo3';
    const spec = { ...BASE_SPEC, discovery: { timeout: '1m', recreateAfterTimeout: true } };
    const created = await h.client.call<Status>('CreateMachine', h.request(name, { spec, lastKnownState: record(name, 2 * 60_000) }));
    expect(h.createRequests()).toHaveLength(1);
    expect(created.providerId).toBe(`vpsie://${h.liveVms()[0]!.identifier}`);
  });
});
