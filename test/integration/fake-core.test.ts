// The fake-server core's knobs (test/fakes/core), on the three fakes that use it: listings that lag a
// create and a completed delete while reads by id do not, answers lost or turned into a 5xx after
// the request took effect, 429 with Retry-After, capacity errors, and close() ending keep-alive
// connections. Plain HTTP against the fakes: what is under test is the fake, not the driver.
import { Agent, request } from 'node:http';
import { startCloudSigmaFake, type CloudSigmaFake } from '../fakes/cloudsigma/index.js';
import { lostAnswer, rateLimited } from '../fakes/core/index.js';
import { startStackitFake, type StackitFake } from '../fakes/stackit/index.js';
import { FAKE_ACCOUNT_PASSWORD, FAKE_TOKEN, startVpsieFake, type VpsieFake } from '../fakes/vpsie/index.js';

const PROJECT = '11111111-1111-4111-8111-111111111111';
const NETWORK = '22222222-2222-4222-8222-222222222222';
const SERVERS = `/v2/projects/${PROJECT}/regions/eu01/servers`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Lags long enough that a loaded machine still asks within them; the lag's end is polled for, not slept through. */
const LAG_MS = 1_500;

/** Polls until `probe` holds; returns how long that took from `since`. */
async function until(probe: () => Promise<boolean>, since: number, timeoutMs = 10_000): Promise<number> {
  while (!(await probe())) {
    if (Date.now() - since > timeoutMs) throw new Error('condition not reached');
    await sleep(50);
  }
  return Date.now() - since;
}

async function call(base: string, method: string, path: string, auth: string, body?: unknown) {
  const headers: Record<string, string> = { authorization: auth, accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(new URL(path, base), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : (JSON.parse(text) as any) };
}

describe('STACKIT fake', () => {
  let fake: StackitFake;
  const api = (method: string, path: string, body?: unknown) => call(fake.url, method, path, 'Bearer fake-static-token', body);
  const create = (name: string) => api('POST', SERVERS, { name, machineType: 't1.1', imageId: NETWORK, networking: { networkId: NETWORK }, labels: { m: name } });
  const listed = async (selector = '') => ((await api('GET', `${SERVERS}${selector ? `?label_selector=${selector}` : ''}`)).body.items as Array<{ id: string; status: string }>).map((s) => s.id);

  beforeAll(async () => {
    fake = await startStackitFake({ activeAfterMs: 0, deleteAfterMs: 0 });
  });
  afterAll(() => fake.close());
  beforeEach(() => fake.reset());

  test('a new server is missing from listings (label_selector too) for createMs, but GET by id finds it at once', async () => {
    fake.setListingLag({ createMs: LAG_MS });
    const before = Date.now();
    const made = await create('lag-1');
    expect(made.status).toBe(201);
    expect(await listed()).toEqual([]);
    expect(await listed('m=lag-1')).toEqual([]);
    expect((await api('GET', `${SERVERS}/${made.body.id}`)).status).toBe(200);
    expect(await until(async () => (await listed('m=lag-1')).includes(made.body.id), before)).toBeGreaterThanOrEqual(LAG_MS);
  });

  test('a server whose deletion completed (GET 404) is still listed for deleteMs, as last seen', async () => {
    fake.setListingLag({ deleteMs: LAG_MS });
    const made = await create('lag-2');
    const deleted = Date.now();
    expect((await api('DELETE', `${SERVERS}/${made.body.id}`)).status).toBe(204);
    expect((await api('GET', `${SERVERS}/${made.body.id}`)).status).toBe(404);
    const ghost = (await api('GET', `${SERVERS}?label_selector=m=lag-2`)).body.items;
    expect(ghost).toEqual([expect.objectContaining({ id: made.body.id, status: 'DELETING' })]);
    expect(await listed('m=other')).toEqual([]);
    expect(await until(async () => (await listed()).length === 0, deleted)).toBeGreaterThanOrEqual(LAG_MS);
  });

  test('reset() restores the lag the fake started with (none)', async () => {
    fake.setListingLag({ createMs: 10_000 });
    fake.reset();
    const made = await create('lag-3');
    expect(await listed()).toEqual([made.body.id]);
  });

  test('a delete completes later: DELETING until deleteAfterMs, then 404', async () => {
    const slow = await startStackitFake({ activeAfterMs: 0, deleteAfterMs: 200 });
    try {
      const made = await call(slow.url, 'POST', SERVERS, 'Bearer fake-static-token', { name: 'slow', machineType: 't1.1', imageId: NETWORK, networking: { networkId: NETWORK } });
      expect((await call(slow.url, 'DELETE', `${SERVERS}/${made.body.id}`, 'Bearer fake-static-token')).status).toBe(204);
      expect((await call(slow.url, 'GET', `${SERVERS}/${made.body.id}`, 'Bearer fake-static-token')).body.status).toBe('DELETING');
      await sleep(250);
      expect((await call(slow.url, 'GET', `${SERVERS}/${made.body.id}`, 'Bearer fake-static-token')).status).toBe(404);
    } finally {
      await slow.close();
    }
  });

  test('a create whose answer is a 502 took effect anyway', async () => {
    fake.injectFault(lostAnswer({ method: 'POST', path: /\/servers$/ }, { status: 502 }));
    const made = await create('five-oh-two');
    expect(made.status).toBe(502);
    expect(made.body).toEqual({ code: 502, msg: 'Bad Gateway' });
    expect(fake.servers().map((s) => s.name)).toEqual(['five-oh-two']);
  });

  test('a create whose connection is dropped took effect anyway', async () => {
    fake.injectFault(lostAnswer({ method: 'POST', path: /\/servers$/ }));
    await expect(create('dropped')).rejects.toThrow();
    expect(fake.servers().map((s) => s.name)).toEqual(['dropped']);
  });

  test('429 with Retry-After changes nothing', async () => {
    fake.injectFault(rateLimited({ method: 'POST' }, 7));
    const res = await create('limited');
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
    expect(fake.servers()).toEqual([]);
  });

  test('out of capacity: the create is accepted, the server lands in ERROR with Nova\'s NoValidHost message', async () => {
    fake.setOutOfCapacity(true);
    const made = await create('full');
    expect(made.status).toBe(201);
    const got = (await api('GET', `${SERVERS}/${made.body.id}`)).body;
    expect(got).toEqual(expect.objectContaining({ status: 'ERROR', errorMessage: expect.stringMatching(/^No valid host was found/) }));
    expect(got.launchedAt).toBeUndefined();
  });

  test('close() ends a keep-alive connection that is still open', async () => {
    const own = await startStackitFake();
    const agent = new Agent({ keepAlive: true });
    const closed = new Promise<void>((resolve, reject) => {
      const req = request(`${own.url}${SERVERS}`, { agent, headers: { authorization: 'Bearer fake-static-token' } }, (res) => {
        res.resume();
        res.on('end', () => {
          req.socket!.once('close', () => resolve());
          void own.close();
        });
      });
      req.on('error', reject);
      req.end();
    });
    await closed;
    agent.destroy();
  });
});

describe('CloudSigma fake', () => {
  let fake: CloudSigmaFake;
  const AUTH = 'Bearer alice-token-1';
  const api = (method: string, path: string, body?: unknown) => call(fake.apiUrl.replace(/\/api\/2\.0\/$/, ''), method, path, AUTH, body);
  const server = (name: string) => ({ objects: [{ name, cpu: 1000, mem: 1024 ** 3, vnc_password: 'v', drives: [], nics: [] }] });
  const listed = async () => ((await api('GET', '/api/2.0/servers/?limit=0')).body.objects as Array<{ uuid: string }>).map((s) => s.uuid);

  beforeAll(async () => {
    fake = await startCloudSigmaFake({ deleteAfterMs: 0 });
  });
  afterAll(() => fake.close());
  beforeEach(() => fake.reset());

  test('listings lag a create (GET by uuid does not), then a completed delete', async () => {
    fake.setListingLag({ createMs: LAG_MS, deleteMs: LAG_MS });
    const before = Date.now();
    const made = await api('POST', '/api/2.0/servers/', server('lag'));
    expect(made.status).toBe(201);
    const uuid = made.body.objects[0].uuid as string;
    expect(await listed()).toEqual([]);
    expect((await api('GET', `/api/2.0/servers/${uuid}/`)).status).toBe(200);
    expect(await until(async () => (await listed()).includes(uuid), before)).toBeGreaterThanOrEqual(LAG_MS);
    const deleted = Date.now();
    expect((await api('DELETE', `/api/2.0/servers/${uuid}/`)).status).toBe(204);
    expect((await api('GET', `/api/2.0/servers/${uuid}/`)).status).toBe(404);
    expect(await listed()).toEqual([uuid]);
    expect(await until(async () => (await listed()).length === 0, deleted)).toBeGreaterThanOrEqual(LAG_MS);
  });

  test('a create whose answer is a 503 took effect anyway, and the 503 carries a CloudSigma error list', async () => {
    fake.injectFault(lostAnswer({ method: 'POST', path: /\/servers\/$/ }, { status: 503 }));
    const made = await api('POST', '/api/2.0/servers/', server('lost'));
    expect(made.status).toBe(503);
    expect(made.body).toEqual([expect.objectContaining({ error_type: 'concurrency', error_message: 'Service Unavailable' })]);
    expect(fake.servers().map((s) => s.name)).toEqual(['lost']);
  });

  test('out of capacity: 503 error_type backend, nothing created', async () => {
    fake.setOutOfCapacity(['create']);
    const res = await api('POST', '/api/2.0/servers/', server('full'));
    expect(res.status).toBe(503);
    expect(res.body).toEqual([expect.objectContaining({ error_type: 'backend' })]);
    expect(fake.servers()).toEqual([]);
  });
});

describe('VPSie fake', () => {
  let fake: VpsieFake;
  // VPSie's credential is the Vpsie-Auth header (terraform-provider-vpsie provider.go); call() sends it too.
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${fake.apiUrl}${path}`, {
      method,
      headers: { 'vpsie-auth': FAKE_TOKEN, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text === '' ? undefined : (JSON.parse(text) as any) };
  };
  const create = (hostname: string) => api('POST', '/vm', { hostname, projectId: 7, dcIdentifier: 'dc-1', resourceIdentifier: 'plan-1', osIdentifier: 'os-1' });
  const listed = async () => ((await api('GET', '/vm')).body.data as Array<{ hostname: string; is_locked: number }>).map((v) => v.hostname);
  const pending = async () => ((await api('GET', '/vm/pending')).body.data as Array<{ data: { hostname: string } }>).map((p) => p.data.hostname);
  const remove = (vmIdentifier: string) => api('DELETE', '/vm', { vmIdentifier, password: FAKE_ACCOUNT_PASSWORD, deleteStatistic: { reason: 'test' } });

  beforeAll(async () => {
    fake = await startVpsieFake({ visibleAfterMs: 0, runningAfterMs: 0, deleteAfterMs: 0 });
  });
  afterAll(() => fake.close());
  beforeEach(() => fake.reset());

  test('a new VM stays in the pending view and out of GET /vm for createMs; GET by identifier finds it', async () => {
    fake.setListingLag({ createMs: LAG_MS });
    const before = Date.now();
    const made = await create('lag-1');
    // VPSie's create answers no id (govpsie server.go CreateServer): the test reads the identifier from the fake.
    expect(made.body).toEqual({ error: false, message: 'VM creation started' });
    const [vm] = fake.vms();
    expect(await listed()).toEqual([]);
    expect(await pending()).toEqual(['lag-1']);
    expect((await api('GET', `/vm/${vm!.identifier}`)).body.data.vmData.hostname).toBe('lag-1');
    expect(await until(async () => (await listed()).includes('lag-1'), before)).toBeGreaterThanOrEqual(LAG_MS);
    expect(await pending()).toEqual([]);
  });

  test('a delete completes later (locked until deleteAfterMs), and GET /vm keeps the gone VM for deleteMs', async () => {
    fake.setTiming({ deleteAfterMs: 300 });
    fake.setListingLag({ deleteMs: LAG_MS });
    await create('lag-2');
    const [vm] = fake.vms();
    const deleted = Date.now();
    expect((await remove(vm!.identifier)).body).toEqual({ error: false, message: 'VM deleted' });
    expect((await api('GET', `/vm/${vm!.identifier}`)).body.data.vmData.is_locked).toBe(1);
    await until(async () => (await api('GET', `/vm/${vm!.identifier}`)).body.message === 'VM not found', deleted);
    expect(fake.vms()).toEqual([]);
    expect(await listed()).toEqual(['lag-2']);
    expect(await until(async () => (await listed()).length === 0, deleted)).toBeGreaterThanOrEqual(LAG_MS);
  });

  test('reset() restores timing, lag and capacity as started', async () => {
    fake.setListingLag({ createMs: 60_000 });
    fake.setTiming({ visibleAfterMs: 60_000 });
    fake.setOutOfCapacity(true);
    fake.reset();
    await create('after-reset');
    expect(await listed()).toEqual(['after-reset']);
  });

  test('a create whose answer is a 502 took effect anyway, and the 502 carries VPSie\'s error body', async () => {
    fake.injectFault(lostAnswer({ method: 'POST', path: /^\/apps\/v2\/vm$/ }, { status: 502 }));
    const made = await create('lost');
    expect(made.status).toBe(502);
    expect(made.body).toEqual({ error: true, code: 502, message: 'Bad Gateway' });
    expect(fake.vms().map((v) => v.hostname)).toEqual(['lost']);
  });

  test('a create whose connection is dropped took effect anyway', async () => {
    fake.injectFault(lostAnswer({ method: 'POST', path: /^\/apps\/v2\/vm$/ }));
    await expect(create('dropped')).rejects.toThrow();
    expect(fake.vms().map((v) => v.hostname)).toEqual(['dropped']);
  });

  test('429 with Retry-After changes nothing', async () => {
    fake.injectFault(rateLimited({ method: 'POST', path: /^\/apps\/v2\/vm$/ }, 3));
    const res = await create('throttled');
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('3');
    expect(fake.vms()).toEqual([]);
  });

  test('out of capacity: HTTP 200 with an error body naming no capacity, nothing created', async () => {
    fake.setOutOfCapacity(true);
    const res = await create('full');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ error: true, message: expect.stringMatching(/^No capacity available/) });
    expect(fake.vms()).toEqual([]);
  });

  test('the recorded request keeps no Vpsie-Auth token, also when a fault answered it', async () => {
    fake.injectFault({ method: 'GET', status: 503 });
    await api('GET', '/vm');
    await api('GET', '/vm');
    expect(fake.requests.map((r) => r.headers['vpsie-auth'])).toEqual(['<redacted>', '<redacted>']);
  });
});
