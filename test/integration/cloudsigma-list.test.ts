// ListMachines pages through limit/offset until meta.total_count servers were read. Against the
// fake directly (Prism validating 10,000 full server objects would only make it slow); the fake
// answers at most 100 servers per page whatever `limit` asks, so the adapter must follow
// total_count rather than trust its own page size.
import { ALICE, BOB, CLASS_NAME, CloudSigmaHarness, NAMESPACE, type Status } from '../support/cloudsigma-harness.js';

let h: CloudSigmaHarness;

beforeAll(async () => {
  h = await CloudSigmaHarness.start({ prism: false, fake: { maxPageSize: 100 } });
});
afterAll(async () => {
  await h.close();
});
beforeEach(() => h.fake.reset());

const markers = (machine: string, cls = CLASS_NAME, ns = NAMESPACE) => ({
  'kubernetes.io/machine': machine,
  'kubernetes.io/machineclass': cls,
  'mcm-grpc-driver.io/cluster': ns,
});

test('10,000 servers: every one of this cluster and class is listed, nothing else', async () => {
  h.fake.seedServers(10_000, (i) => {
    const name = `alpha-worker-z1-${String(i).padStart(5, '0')}`;
    switch (i % 4) {
      case 0:
      case 1:
        return { owner: ALICE, name, meta: markers(name) };
      case 2:
        return { owner: ALICE, name, meta: markers(name, 'alpha-worker-z2') };
      default:
        return { owner: ALICE, name, meta: markers(name, CLASS_NAME, 'shoot--garden--beta') };
    }
  });
  h.fake.seedServers(50, (i) => ({ owner: BOB, name: `bob-${i}`, meta: markers(`bob-${i}`) }));
  const started = Date.now();
  const list = await h.client.call<{ machineList: Record<string, string> }>('ListMachines', h.listRequest());
  const seconds = (Date.now() - started) / 1000;
  const entries = Object.entries(list.machineList);
  expect(entries).toHaveLength(5_000);
  const expected = h.fake.servers().filter((s) => s.owner === h.fake.user(ALICE).uuid && s.meta['kubernetes.io/machineclass'] === CLASS_NAME && s.meta['mcm-grpc-driver.io/cluster'] === NAMESPACE);
  expect(new Set(entries.map(([id]) => id))).toEqual(new Set(expected.map((s) => `cloudsigma://${s.uuid}`)));
  for (const [id, machine] of entries) expect(expected.find((s) => `cloudsigma://${s.uuid}` === id)?.meta['kubernetes.io/machine']).toBe(machine);
  // 100 pages of at most 100, ordered by uuid.
  const pages = h.apiRequests('GET', /^\/api\/2\.0\/servers\/detail\/$/);
  expect(pages).toHaveLength(100);
  expect(pages.map((p) => Number(p.query.offset))).toEqual(Array.from({ length: 100 }, (_, i) => i * 100));
  expect(pages.every((p) => p.query.order_by === 'uuid')).toBe(true);
  // Generous: the other engineer's tests share this 2-core machine.
  expect(seconds).toBeLessThan(45);
}, 120_000);

test('among 10,000 servers, CreateMachine still finds the Machine’s server and adopts it', async () => {
  h.fake.seedServers(10_000, (i) => ({ owner: ALICE, name: `other-${i}`, meta: markers(`alpha-worker-z1-${i}`, CLASS_NAME, 'shoot--garden--beta') }));
  const mine = h.fake.seedServer({ owner: ALICE, name: 'alpha-worker-z1-needle', meta: markers('alpha-worker-z1-needle') });
  const res = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-needle'));
  expect(res.providerId).toBe(`cloudsigma://${mine.uuid}`);
  expect(h.createRequests()).toHaveLength(0);
}, 120_000);

test('an empty account lists as an empty map with one request', async () => {
  const list = await h.client.call<{ machineList: Record<string, string> }>('ListMachines', h.listRequest());
  expect(list.machineList).toEqual({});
  expect(h.apiRequests('GET')).toHaveLength(1);
});
