import { MachineCode } from '../../src/driver/codes.js';
import { callError } from '../support/call-error.js';
import { CLASS_NAME, NAMESPACE, PROJECT_ID, VpsieHarness, type Status } from '../support/vpsie-harness.js';

/**
 * Issue 13, VPSie: behaviours of VPSie's real API as its own clients show them
 * (sources named beside each test and in test/fakes/vpsie), which the fake
 * reproduces and the adapter must handle. Each test failed on the adapter
 * before this change.
 */

const oldNotes = (machine: string) => `worker pool\nmcm-grpc-driver: cluster=${NAMESPACE} class=${CLASS_NAME} machine=${machine}`;
const started: VpsieHarness[] = [];
async function harness(options: Parameters<typeof VpsieHarness.start>[0] = {}): Promise<VpsieHarness> {
  const h = await VpsieHarness.start(options);
  started.push(h);
  return h;
}
afterAll(async () => {
  for (const h of started) await h.close();
});

// 1. vpsieinc/govpsie govpsie.go Do: any non-2xx becomes its message; vpsieinc/terraform-provider-vpsie
//    internal/services/server/server_resource.go Read: "gone" when the message contains "not found".
describe('1. "gone" is the message, not the status', () => {
  test.each([400, 410, 422])('unknown VMs answered %i "VM not found": DeleteMachine completes, GetMachineStatus is NotFound', async (status) => {
    const h = await harness({ fake: { notFoundStatus: status } });
    const created = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-gone'));
    await h.client.call('DeleteMachine', h.request('alpha-worker-z1-gone', { providerID: created.providerId }));
    expect(h.liveVms()).toHaveLength(0);
    const err = await callError(h.client.call('GetMachineStatus', h.request('alpha-worker-z1-gone', { providerID: created.providerId })));
    expect(err.code).toBe(MachineCode.NotFound);
    // Deleting it again (MCM retries) is done, not an error.
    await h.client.call('DeleteMachine', h.request('alpha-worker-z1-gone', { providerID: created.providerId }));
  });

  test('any other error is never gone: a 400 without "not found", a 403 and a 500 keep the VM', async () => {
    const h = await harness({ fake: { notFoundStatus: 400 }, retry: { limit: 0 } });
    const created = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-keep'));
    const GET = { method: 'GET', path: /^\/apps\/v2\/vm\/(?!pending$)[^/]+$/ };
    for (const [status, message] of [[400, 'Invalid request'], [403, 'Permission denied, VM not found for this token'], [500, 'VM not found']] as const) {
      h.fake.injectFault({ ...GET, status, body: { error: true, code: status, message } });
      const answer = await h.client.call('GetMachineStatus', h.request('alpha-worker-z1-keep', { providerID: created.providerId })).then(
        (r) => ({ answered: r, status }),
        (e: unknown) => ({ code: (e as { code?: number }).code, status }),
      );
      // An error other than NotFound, or (the driver's 403 handling re-reads) the VM itself: never "gone".
      if ('code' in answer) expect(answer.code).not.toBe(MachineCode.NotFound);
      else expect((answer.answered as Status).providerId).toBe(created.providerId);
    }
    h.fake.injectFault({ method: 'DELETE', path: /^\/apps\/v2\/vm$/, status: 400, body: { error: true, code: 400, message: 'Invalid request' } });
    const del = await callError(h.client.call('DeleteMachine', h.request('alpha-worker-z1-keep', { providerID: created.providerId })));
    expect(del.code).toBe(MachineCode.InvalidArgument);
    expect(h.liveVms()).toHaveLength(1);
  });
});

// 2. govpsie storage.go `offset=…&limit…`, vpsie-csi 1000 per page; what `total` counts: no client shows.
describe('2. paging', () => {
  test('ListMachines reads every page of a list served 25 rows at a time, and a total larger than the rows blocks nothing', async () => {
    const h = await harness({ fake: { defaultPageSize: 25, maxPageSize: 25 } });
    const ids = Array.from({ length: 60 }, (_, i) => h.fake.seedVm({ hostname: `alpha-worker-z1-p${i}`, projectId: PROJECT_ID, notes: oldNotes(`alpha-worker-z1-p${i}`) }).identifier);
    h.fake.setListTotalExtra(7);
    const list = await h.client.call<{ machineList: Record<string, string> }>('ListMachines', h.listRequest());
    expect(Object.keys(list.machineList).sort()).toEqual(ids.map((id) => `vpsie://${id}`).sort());
    // The VM on the third page is found by hostname: no second VM for it.
    const again = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-p55'));
    expect(again.providerId).toBe(`vpsie://${ids[55]}`);
    const fresh = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-new'));
    expect(fresh.providerId).toMatch(/^vpsie:\/\//);
    expect(h.createRequests()).toHaveLength(1);
    const pages = h.fake.requests.filter((r) => r.method === 'GET' && r.path === '/apps/v2/vm');
    expect(pages.every((r) => r.query.limit === '1000' && r.query.offset !== undefined)).toBe(true);
  });
});

// 3. No VPSie client relies on notes coming back byte-identical (cloud-fidelity.md F4).
describe('3. markers that survive the API', () => {
  const mangle = (n: string) => n.replace(/\n/g, ' ').replace(/&/g, '&amp;').replace(/</g, '&lt;').slice(0, 110).trim();
  test('notes trimmed, newlines stripped, HTML-encoded and shortened: the VM is still ours (no AlreadyExists, listed)', async () => {
    const h = await harness({ fake: { transformNotes: mangle } });
    const spec = { projectId: PROJECT_ID, dcIdentifier: 'dc-ny-1', resourceIdentifier: 'plan-4c-8g', osIdentifier: 'ubuntu-24-04', notes: 'pool <z1> & a long user note that VPSie may cut off' };
    const created = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-tn', { spec }));
    expect(h.liveVms()[0]!.notes).not.toContain('\n');
    const again = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-tn', { spec }));
    expect(again.providerId).toBe(created.providerId);
    const list = await h.client.call<{ machineList: Record<string, string> }>('ListMachines', h.listRequest({ spec }));
    expect(list.machineList).toEqual({ [created.providerId]: 'alpha-worker-z1-tn' });
  });

  test('notes dropped altogether: the tags (GET /vm/{id} vmTags) identify the VM; foreign VMs stay foreign', async () => {
    const h = await harness({ fake: { transformNotes: () => '' } });
    const created = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-tg'));
    const again = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-tg'));
    expect(again.providerId).toBe(created.providerId);
    const hand = h.fake.seedVm({ hostname: 'alpha-worker-z1-hand', projectId: PROJECT_ID, tags: ['team:ops'] });
    h.fake.seedVm({ hostname: 'alpha-worker-z1-beta', projectId: PROJECT_ID, tags: ['mcm-cluster:shoot--garden--beta', `mcm-class:${CLASS_NAME}`, 'mcm-machine:alpha-worker-z1-beta'] });
    const list = await h.client.call<{ machineList: Record<string, string> }>('ListMachines', h.listRequest());
    expect(list.machineList).toEqual({ [created.providerId]: 'alpha-worker-z1-tg' });
    const err = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-hand')));
    expect(err.code).toBe(MachineCode.AlreadyExists);
    expect(h.fake.vms().find((v) => v.identifier === hand.identifier)?.phase).toBe('running');
  });

  test('a VM made by the previous driver version (marker as the last notes line) is still recognised', async () => {
    const h = await harness();
    const old = h.fake.seedVm({ hostname: 'alpha-worker-z1-old', projectId: PROJECT_ID, notes: oldNotes('alpha-worker-z1-old') });
    const res = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-old'));
    expect(res.providerId).toBe(`vpsie://${old.identifier}`);
    expect(h.createRequests()).toHaveLength(0);
  });
});

// 4 + 5. govpsie server.go serverBasePath "/api/v2/vm" (234456e), pending.go and scripts.go "/apps/v2";
// strings on /api/v2 (govpsie 4022865), numbers on /apps/v2 (terraform-provider-vpsie, cluster-api-provider-vpsie).
describe('4/5. base URLs by API family, flags per path', () => {
  test('VM calls on /api/v2 with string flags, pending view and scripts on /apps/v2; the VM gets its flags', async () => {
    const h = await harness({ vmFamily: '/api/v2' });
    const spec = { projectId: PROJECT_ID, dcIdentifier: 'dc-ny-1', resourceIdentifier: 'plan-4c-8g', osIdentifier: 'ubuntu-24-04', addPublicIpV6: true, addPrivateIp: true };
    const created = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-api', { spec }));
    const post = h.fake.requests.find((r) => r.method === 'POST' && r.path === '/api/v2/vm')!;
    expect(post.body).toMatchObject({ addPublicIpV6: '1', addPrivateIp: '1' });
    expect(h.liveVms()[0]!.flags).toEqual({ addPublicIpV6: '1', addPrivateIp: '1' });
    expect(created.addresses.some((a) => a.address.includes(':'))).toBe(true);
    expect(h.fake.requests.some((r) => r.path === '/apps/v2/vm/pending')).toBe(true);
    expect(h.fake.requests.some((r) => r.path === '/apps/v2/script/add')).toBe(true);
    expect(h.fake.requests.filter((r) => r.path.startsWith('/api/v2/')).every((r) => /^\/api\/v2\/vm(\/[^/]+)?$/.test(r.path) && r.path !== '/api/v2/vm/pending')).toBe(true);
    await h.client.call('DeleteMachine', h.request('alpha-worker-z1-api', { spec, providerID: created.providerId }));
    expect(h.fake.requests.some((r) => r.method === 'DELETE' && r.path === '/api/v2/vm')).toBe(true);
    expect(h.fake.scripts()).toHaveLength(0);
  });
});

// 6. govpsie scripts.go: GetScript (GET /apps/v2/script/{id} → ScriptDetail) and ListScriptRoot.Total.
describe('6. scripts', () => {
  test('a script list without bodies: the script is read by its detail call and the VM is made', async () => {
    const h = await harness({ fake: { scriptListBodies: false, defaultPageSize: 2, maxPageSize: 2 } });
    for (let i = 0; i < 5; i++) h.fake.seedScript({ name: `other-${i}`, script: '#!/bin/sh\ntrue\n' });
    const created = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-sd'));
    expect(created.providerId).toMatch(/^vpsie:\/\//);
    expect(h.fake.requests.some((r) => r.method === 'GET' && /^\/apps\/v2\/script\/[^/]+$/.test(r.path))).toBe(true);
    expect(h.fake.requests.filter((r) => r.path === '/apps/v2/script/add')).toHaveLength(1);
  });

  test('a script listed only after the call budget: the retry adds no second script', async () => {
    const h = await harness({ fake: { scriptVisibleAfterMs: 2_500 } });
    const first = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-sl')));
    expect(first.code).toBe(MachineCode.Unavailable);
    let res: Status | undefined;
    for (let i = 0; i < 10 && !res; i++) {
      try {
        res = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-sl'));
      } catch (err) {
        expect((err as { code?: number }).code).toBe(MachineCode.Unavailable);
      }
    }
    expect(res?.providerId).toMatch(/^vpsie:\/\//);
    expect(h.fake.requests.filter((r) => r.path === '/apps/v2/script/add')).toHaveLength(1);
    expect(h.fake.scripts()).toHaveLength(1);
  });
});

// 7. vpsieinc/vpsie-csi driver.go DefaultDriverName = "vpsie.csi.vpsie.com".
test('7. GetVolumeIDs answers the storage identifier of VPSie CSI volumes only', async () => {
  const h = await harness({ prism: false });
  const pv = (driver: string, handle: string) => Buffer.from(JSON.stringify({ csi: { driver, volumeHandle: handle } }));
  const res = await h.client.call<{ volumeIds: string[] }>('GetVolumeIDs', { pvSpecs: [pv('vpsie.csi.vpsie.com', 'st-1'), pv('ebs.csi.aws.com', 'vol-2')] });
  expect(res.volumeIds).toEqual(['st-1']);
});

// 8. vpsieinc/vpsie-k8s-autoscaler pkg/vpsie/client/client.go: DefaultRateLimit = 100 a minute, 429 handled.
describe('8. polling within rate limits', () => {
  test('four Machines discovering at once share one budget per account', async () => {
    const h = await harness({ fake: { visibleAfterMs: 4_000, runningAfterMs: 0 }, provider: { requestsPerMinute: 60, discoveryCallBudgetMs: 6_000 }, prism: false });
    const t0 = Date.now();
    const names = ['a', 'b', 'c', 'd'].map((s) => `alpha-worker-z1-rl${s}`);
    const results = await Promise.allSettled(names.map((n) => h.client.call<Status>('CreateMachine', h.request(n, { spec: { projectId: PROJECT_ID, dcIdentifier: 'dc-ny-1', resourceIdentifier: 'plan-4c-8g', osIdentifier: 'ubuntu-24-04', userDataDelivery: 'none' } }))));
    const elapsedS = (Date.now() - t0) / 1000;
    // Burst 60, then one a second, for every Machine together (at 50 ms polling, unbounded would be hundreds).
    expect(h.fake.requests.length).toBeLessThanOrEqual(60 + Math.ceil(elapsedS) + 1);
    expect(h.createRequests()).toHaveLength(4);
    expect(results.filter((r) => r.status === 'fulfilled').length + results.filter((r) => r.status === 'rejected').length).toBe(4);
  });

  test('the default budget (100 a minute, burst 100) bounds the polling of all Machines together', async () => {
    delete process.env.VPSIE_REQUESTS_PER_MINUTE;
    // requestsPerMinute undefined: the provider's default, as a sidecar runs without VPSIE_REQUESTS_PER_MINUTE.
    const h = await harness({ fake: { visibleAfterMs: 5_000, runningAfterMs: 0 }, provider: { requestsPerMinute: undefined, discoveryCallBudgetMs: 8_000 }, prism: false });
    const t0 = Date.now();
    const names = ['a', 'b', 'c', 'd', 'e', 'f'].map((s) => `alpha-worker-z1-dl${s}`);
    await Promise.allSettled(names.map((n) => h.client.call<Status>('CreateMachine', h.request(n, { spec: { projectId: PROJECT_ID, dcIdentifier: 'dc-ny-1', resourceIdentifier: 'plan-4c-8g', osIdentifier: 'ubuntu-24-04', userDataDelivery: 'none' } }))));
    const elapsedS = (Date.now() - t0) / 1000;
    // Six Machines polling every 50 ms would send hundreds of requests a second; the shared bucket lets 100 go
    // at once and then one every 0.6 s, for all of them together.
    const bound = 100 + Math.ceil((elapsedS * 100) / 60) + 1;
    process.stdout.write(`vpsie default budget: ${JSON.stringify({ machines: 6, seconds: Math.round(elapsedS), requests: h.fake.requests.length, bound })}\n`);
    expect(h.fake.requests.length).toBeGreaterThanOrEqual(100);
    expect(h.fake.requests.length).toBeLessThanOrEqual(bound);
    expect(h.createRequests()).toHaveLength(6);
  });

  test('a create cut while it waits for the budget answers at once, and names no request (none was sent)', async () => {
    // Six requests a minute: the two lookups before the create (the core's, then the adapter's: list, pending
    // view, list each) use them, so the create request itself waits 10 s for a token.
    const h = await harness({ provider: { requestsPerMinute: 6 }, prism: false });
    const call = callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-cut', { spec: { projectId: PROJECT_ID, dcIdentifier: 'dc-ny-1', resourceIdentifier: 'plan-4c-8g', osIdentifier: 'ubuntu-24-04', userDataDelivery: 'none' } })));
    const waiting = Date.now() + 10_000;
    while (h.fake.requests.length < 6 && Date.now() < waiting) await new Promise((r) => setTimeout(r, 20));
    expect(h.fake.requests).toHaveLength(6);
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    void h.sidecar.shutdown(); // grace 2 s, then every running call is answered Unavailable
    const err = await call;
    expect(err.code).toBe(MachineCode.Unavailable);
    expect(Date.now() - t0).toBeLessThan(3_500);
    expect(h.createRequests()).toHaveLength(0);
    // Nothing was sent, so nothing is named: a create-requested record would have the next calls wait up to the
    // discovery timeout (15 min) for a VM that never comes, and then fail Internal.
    expect(String(err.response?.lastKnownState ?? '')).toBe('');
  });

  test('429 with Retry-After: reads wait for it (got honours Retry-After) and the VM is made once', async () => {
    const h = await harness({ retry: { limit: 3, baseDelayMs: 5, maxDelayMs: 20 }, prism: false });
    h.fake.injectFault({ method: 'GET', path: /^\/apps\/v2\/vm$/, status: 429, headers: { 'retry-after': '1' }, body: { error: true, code: 429, message: 'Too many requests' } });
    const t0 = Date.now();
    const res = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-429', { spec: { projectId: PROJECT_ID, dcIdentifier: 'dc-ny-1', resourceIdentifier: 'plan-4c-8g', osIdentifier: 'ubuntu-24-04', userDataDelivery: 'none' } }));
    expect(res.providerId).toMatch(/^vpsie:\/\//);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(h.createRequests()).toHaveLength(1);
  });
});
