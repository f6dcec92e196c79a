import { MachineCode } from '../../src/driver/codes.js';
import { VPSIE_DISCOVERY_WINDOW_MS } from '../../src/providers/vpsie/vpsie-provider.js';
import { callError } from '../support/call-error.js';
import { BASE_SPEC, McmMachine, VpsieHarness, describeStep, type Status } from '../support/vpsie-harness.js';

/**
 * VPSie's create answers no VM id; the VM shows up later, first in the
 * pending view (no identifier), then in the list. The adapter answers the
 * create with "accepted, no id"; MachineDriver records the create intent
 * (memory, lastKnownState), discovers the VM by its markers and sends no
 * second create within VPSie's discovery window, or while a VM of the
 * Machine is in the pending view. All over gRPC against the fake (behind Prism).
 */

interface IntentState {
  createIntent: { requestedAt: string; until: string; providerId?: string };
}
function intentOf(s: unknown): IntentState['createIntent'] {
  return (JSON.parse(String(s)) as IntentState).createIntent;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('visibility slower than MCM’s retries', () => {
  let h: VpsieHarness;
  // Invisible for 3 s, pending until 6 s, then listed.
  beforeAll(async () => {
    h = await VpsieHarness.start({ fake: { pendingAfterMs: 3_000, visibleAfterMs: 6_000, runningAfterMs: 50 } });
  });
  afterAll(async () => {
    await h.close();
  });
  beforeEach(() => h.fake.reset());

  test('MCM call order: the create intent travels in lastKnownState, no second create while invisible or pending; the VM is adopted', async () => {
    const m = new McmMachine(h, 'alpha-worker-z1-slow1');
    const status = await m.untilAdopted(80, 200);
    const trace = m.steps.map(describeStep).join(' | ');

    expect(h.createRequests()).toHaveLength(1);
    expect(h.liveVms()).toHaveLength(1);
    expect(status.providerId).toBe(`vpsie://${h.liveVms()[0]!.identifier}`);

    const creates = m.steps.filter((s) => s.call === 'CreateMachine');
    const first = creates[0]!;
    expect(first.ok).toBe(false);
    if (first.ok) throw new Error(trace);
    // Accepted without an id, not visible at once: Unavailable with the intent for MCM to hand back.
    expect(first.error.code).toBe(MachineCode.Unavailable);
    expect(first.error.details).toContain('no second create is sent');
    const intent = intentOf(first.error.response?.lastKnownState);
    // VPSie's window (20 min), counted from when the outcome turned unknown (a moment after the request).
    const windowMs = Date.parse(intent.until) - Date.parse(intent.requestedAt);
    expect(windowMs).toBeGreaterThanOrEqual(VPSIE_DISCOVERY_WINDOW_MS);
    expect(windowMs).toBeLessThan(VPSIE_DISCOVERY_WINDOW_MS + 10_000);
    // Every later step (GetMachineStatus Unavailable while invisible, then pending) came back with it.
    for (const s of m.steps.slice(m.steps.indexOf(first) + 1)) expect(s.sentLastKnownState).toBe(first.error.response?.lastKnownState);
    // The pending phase was seen and answered Unavailable naming it, never NotFound.
    expect(m.steps.some((s) => !s.ok && s.error.details.includes('pending view'))).toBe(true);
  }, 60_000);

  test('20 concurrent CreateMachine calls for one Machine: one create request, one VM', async () => {
    const name = 'alpha-worker-z1-race1';
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => h.client.call<Status>('CreateMachine', h.request(name))));
    const states = new Set(results.map((r) => (r.status === 'rejected' ? String((r.reason as { response?: { lastKnownState?: string } }).response?.lastKnownState) : 'ok')));
    expect(states.size).toBe(1);
    expect(h.createRequests()).toHaveLength(1);
    const m = new McmMachine(h, name);
    m.lastKnownState = [...states][0]!;
    await Promise.all(Array.from({ length: 5 }, () => m.untilAdopted(80, 200)));
    expect(h.createRequests()).toHaveLength(1);
    expect(h.liveVms()).toHaveLength(1);
  }, 60_000);

  test('MCM cleared lastKnownState: the driver still remembers the intent and does not create again', async () => {
    const name = 'alpha-worker-z1-clear';
    const first = await callError(h.client.call('CreateMachine', h.request(name)));
    expect(first.code).toBe(MachineCode.Unavailable);
    // E.g. a GetMachineStatus answered Unauthenticated in between: MCM clears the stored value.
    const second = await callError(h.client.call('CreateMachine', h.request(name, { lastKnownState: '' })));
    expect(second.code).toBe(MachineCode.Unavailable);
    expect(h.createRequests()).toHaveLength(1);
    expect(intentOf(second.response?.lastKnownState).requestedAt).toBe(intentOf(first.response?.lastKnownState).requestedAt);
  }, 30_000);
});

describe('pending view', () => {
  let h: VpsieHarness;
  // Pending at once, listed after 2.5 s.
  beforeAll(async () => {
    h = await VpsieHarness.start({ fake: { pendingAfterMs: 0, visibleAfterMs: 2_500 } });
  });
  afterAll(async () => {
    await h.close();
  });
  beforeEach(() => h.fake.reset());

  test('a VM only in the pending view: GetMachineStatus is Unavailable naming it (never NotFound), then adopts it once listed', async () => {
    const name = 'alpha-worker-z1-pend1';
    const first = await callError(h.client.call('CreateMachine', h.request(name)));
    expect(first.code).toBe(MachineCode.Unavailable);
    let status: Status | undefined;
    for (let i = 0; i < 30 && !status; i++) {
      try {
        status = await h.client.call<Status>('GetMachineStatus', h.request(name, { lastKnownState: String(first.response?.lastKnownState) }));
      } catch (err) {
        expect((err as { code: number }).code).toBe(MachineCode.Unavailable);
        expect((err as { details: string }).details).toContain('pending view');
        await sleep(200);
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

  test('DeleteMachine without providerID waits for a pending VM instead of ending while it is still coming', async () => {
    const name = 'alpha-worker-z1-pend3';
    h.fake.seedPending({ hostname: name, projectId: BASE_SPEC.projectId, tags: [`mcm-cluster:shoot--garden--alpha`, `mcm-class:alpha-worker-z1`, `mcm-machine:${name}`] });
    const err = await callError(h.client.call('DeleteMachine', h.request(name)));
    expect(err.code).toBe(MachineCode.Unavailable);
    expect(err.details).toContain('pending view');
  }, 30_000);

  test('a foreign pending entry with the Machine’s hostname (no tags of ours) is not ours: CreateMachine creates', async () => {
    const name = 'alpha-worker-z1-pend4';
    h.fake.seedPending({ hostname: name, projectId: BASE_SPEC.projectId, tags: ['mcm-cluster:another-cluster', `mcm-machine:${name}`] });
    await callError(h.client.call('CreateMachine', h.request(name))).catch(() => undefined);
    expect(h.createRequests()).toHaveLength(1);
  }, 30_000);
});

describe('lost and timed-out create answers', () => {
  let h: VpsieHarness;
  beforeAll(async () => {
    h = await VpsieHarness.start({ httpTimeoutMs: 600, fake: { visibleAfterMs: 300 } });
  });
  afterAll(async () => {
    await h.close();
  });
  beforeEach(() => h.fake.reset());

  test('a create whose answer is lost (Prism reports 500) is not repeated; the VM is adopted', async () => {
    h.fake.injectFault({ method: 'POST', path: /^\/apps\/v2\/vm$/, afterSuccess: 'drop' });
    const m = new McmMachine(h, 'alpha-worker-z1-lost1');
    const created = await m.untilAdopted(40, 200);
    expect(h.createRequests()).toHaveLength(1);
    expect(h.liveVms()).toHaveLength(1);
    expect(created.providerId).toBe(`vpsie://${h.liveVms()[0]!.identifier}`);
  }, 30_000);

  test('a create that times out is not repeated; the VM VPSie made anyway is adopted', async () => {
    h.fake.injectFault({ method: 'POST', path: /^\/apps\/v2\/vm$/, delayMs: 1_000 });
    const m = new McmMachine(h, 'alpha-worker-z1-lost2');
    const created = await m.untilAdopted(40, 200);
    expect(h.createRequests()).toHaveLength(1);
    expect(created.providerId).toBe(`vpsie://${h.liveVms()[0]!.identifier}`);
  }, 30_000);

  test('a 5xx on create is ambiguous: no second request, Unavailable with the intent when nothing shows up', async () => {
    h.fake.injectFault({ method: 'POST', path: /^\/apps\/v2\/vm$/, status: 502, body: { error: true, code: 502, message: 'upstream stack trace' } });
    const err = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-5xx')));
    expect(err.code).toBe(MachineCode.Unavailable);
    expect(err.details).not.toContain('stack trace');
    expect(intentOf(err.response?.lastKnownState).requestedAt).toBeDefined();
    const again = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-5xx', { lastKnownState: String(err.response?.lastKnownState) })));
    expect(again.code).toBe(MachineCode.Unavailable);
    expect(h.createRequests()).toHaveLength(1);
  }, 30_000);
});

describe('discovery window (2 s here)', () => {
  let h: VpsieHarness;
  beforeAll(async () => {
    h = await VpsieHarness.start({ timings: { discoveryWindowMs: 2_000 } });
  });
  afterAll(async () => {
    await h.close();
  });
  beforeEach(() => h.fake.reset());

  test('a create VPSie accepts but never carries out: no second create within the window, one after it; one VM', async () => {
    h.fake.injectFault({ method: 'POST', path: /^\/apps\/v2\/vm$/, status: 200, body: { error: false, message: 'VM creation started' } });
    const m = new McmMachine(h, 'alpha-worker-z1-win1');
    const t0 = Date.now();
    await m.pass();
    expect(h.createRequests()).toHaveLength(1);
    while (Date.now() - t0 < 1_500) {
      await m.pass();
      expect(h.createRequests()).toHaveLength(1);
      await sleep(200);
    }
    await sleep(700);
    const status = await m.untilAdopted(40, 200);
    expect(h.createRequests()).toHaveLength(2);
    expect(h.liveVms()).toHaveLength(1);
    expect(status.providerId).toBe(`vpsie://${h.liveVms()[0]!.identifier}`);
  }, 30_000);

  test('a VM of ours still in the pending view after the window: no second create', async () => {
    const name = 'alpha-worker-z1-win2';
    h.fake.seedPending({ hostname: name, projectId: BASE_SPEC.projectId, tags: [`mcm-cluster:shoot--garden--alpha`, `mcm-class:alpha-worker-z1`, `mcm-machine:${name}`] });
    const old = JSON.stringify({ createIntent: { requestedAt: new Date(Date.now() - 60_000).toISOString(), until: new Date(Date.now() - 58_000).toISOString() } });
    const err = await callError(h.client.call('CreateMachine', h.request(name, { lastKnownState: old })));
    expect(err.code).toBe(MachineCode.Unavailable);
    expect(err.details).toContain('pending view');
    expect(h.createRequests()).toHaveLength(0);
  }, 30_000);
});
