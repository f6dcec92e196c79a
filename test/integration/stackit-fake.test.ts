// The STACKIT fake behind `prism proxy <STACKIT_SPEC> --errors`: Prism checks every request and
// response against the spec (ours by default, the vendor's when CI sets STACKIT_SPEC), so these
// tests prove both that the fake behaves like the API and that its answers conform to the spec.
import { generateKeyPair, exportSPKI, SignJWT } from 'jose';
import { randomUUID } from 'node:crypto';
import { startStackitFake, type FaultSpec, type StackitFake } from '../fakes/stackit/index.js';
import { STACKIT_SPEC, startPrismMock, startPrismProxy, type PrismProcess } from '../support/prism.js';

const PROJECT = '4f8c2a8e-1b7d-4c3e-9a6f-2d5e8b7c1a90';
const OTHER_PROJECT = 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d';
const REGION = 'eu01';
const IMAGE = 'e24b1440-8d9c-431b-8da4-02916720fab5';
const NETWORK = 'ef018b02-74e9-4f70-87bb-ce1a9742afb9';
const TOKEN = 'fake-static-token';
const ACTIVE_AFTER_MS = 800;
const DELETE_AFTER_MS = 800;
const KID = 'sa-key-1';

const serversPath = (project = PROJECT, region = REGION) => `/v2/projects/${project}/regions/${region}/servers`;

interface ApiResult {
  status: number;
  headers: Headers;
  body: any;
}

async function api(
  baseUrl: string,
  method: string,
  path: string,
  opts: { body?: unknown; token?: string | null; query?: Record<string, string> } = {},
): Promise<ApiResult> {
  const url = new URL(path, baseUrl);
  for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = opts.token === undefined ? TOKEN : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
}

function createPayload(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    machineType: 'c2i.2',
    imageId: IMAGE,
    networking: { networkId: NETWORK },
    labels: { 'mcm-machine': name, 'mcm-machineclass': 'worker-z1' },
    ...extra,
  };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function signAssertion(
  privateKey: CryptoKey,
  opts: { kid?: string; omit?: 'jti'; expiresIn?: string | number } = {},
): Promise<string> {
  const jwt = new SignJWT({})
    .setProtectedHeader({ alg: 'RS512', kid: opts.kid ?? KID })
    .setIssuer('sa@sa.stackit.cloud')
    .setSubject(randomUUID())
    .setAudience('https://stackit-service-account-prod.apps.01.cf.eu01.stackit.cloud')
    .setIssuedAt()
    .setExpirationTime(opts.expiresIn ?? '1h');
  if (opts.omit !== 'jti') jwt.setJti(randomUUID());
  return jwt.sign(privateKey);
}

async function postToken(fake: StackitFake, form: Record<string, string>): Promise<ApiResult> {
  const res = await fetch(fake.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

describe(`STACKIT fake behind Prism proxy (${STACKIT_SPEC})`, () => {
  let fake: StackitFake;
  let prism: PrismProcess;
  let privateKey: CryptoKey;
  const call = (method: string, path: string, opts?: Parameters<typeof api>[3]) => api(prism.url, method, path, opts);
  const direct = (method: string, path: string, opts?: Parameters<typeof api>[3]) => api(fake.url, method, path, opts);

  beforeAll(async () => {
    const keys = await generateKeyPair('RS512');
    privateKey = keys.privateKey;
    fake = await startStackitFake({
      activeAfterMs: ACTIVE_AFTER_MS,
      deleteAfterMs: DELETE_AFTER_MS,
      trustedKeys: [{ kid: KID, publicKeyPem: await exportSPKI(keys.publicKey) }],
    });
    prism = await startPrismProxy(STACKIT_SPEC, fake.url);
    // Prism compiles each operation's validators on first use; do it now so that the
    // timing-sensitive tests below do not pay for it.
    const warm = await call('POST', serversPath(), { body: createPayload('warm-up') });
    await call('GET', `${serversPath()}/${warm.body.id}`, { query: { details: 'true' } });
    await call('GET', serversPath(), { query: { details: 'true' } });
    await call('DELETE', `${serversPath()}/${warm.body.id}`);
    fake.reset();
  });

  afterEach(() => fake.reset());

  afterAll(async () => {
    await prism?.close();
    await fake?.close();
  });

  describe('server lifecycle', () => {
    it('creates a server: 201, CREATING, echoed fields, synthesized NIC, X-Request-Id', async () => {
      const userData = Buffer.from('#cloud-config\nruncmd: [echo hi]\n').toString('base64');
      const res = await call('POST', serversPath(), {
        body: createPayload('node-a', {
          userData,
          keypairName: 'ops-key',
          availabilityZone: 'eu01-1',
          securityGroups: ['188de165-5767-4fc2-8710-a4d2017249e7'],
          serviceAccountMails: ['node@sa.stackit.cloud'],
          agent: { provisioned: false },
          metadata: { owner: 'mcm' },
        }),
      });

      expect(res.status).toBe(201);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.body).toMatchObject({
        name: 'node-a',
        machineType: 'c2i.2',
        status: 'CREATING',
        imageId: IMAGE,
        availabilityZone: 'eu01-1',
        keypairName: 'ops-key',
        labels: { 'mcm-machine': 'node-a', 'mcm-machineclass': 'worker-z1' },
        userData,
        serviceAccountMails: ['node@sa.stackit.cloud'],
        agent: { provisioned: false },
        metadata: { owner: 'mcm' },
      });
      expect(res.body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(res.body.nics).toEqual([
        expect.objectContaining({ networkId: NETWORK, nicId: expect.any(String), ipv4: expect.stringMatching(/^10\./) }),
      ]);
      // Write-only in the API, so never echoed.
      expect(res.body).not.toHaveProperty('securityGroups');

      const [stored] = fake.servers();
      expect(stored).toMatchObject({ projectId: PROJECT, region: REGION, id: res.body.id, userData });
      expect(stored!.securityGroups).toEqual(['188de165-5767-4fc2-8710-a4d2017249e7']);
    });

    it('reports CREATING, then ACTIVE once activeAfterMs has passed', async () => {
      // t0 is taken before the fake sees the create, so client-side elapsed time bounds the
      // fake's own: the assertions hold however slow Prism or the machine is.
      const t0 = Date.now();
      const created = await call('POST', serversPath(), { body: createPayload('node-b') });
      const first = await call('GET', `${serversPath()}/${created.body.id}`);
      expect(first.status).toBe(200);
      if (Date.now() - t0 < ACTIVE_AFTER_MS) {
        expect(first.body.status).toBe('CREATING');
        expect(first.body).not.toHaveProperty('launchedAt');
      }

      const active = await waitFor('ACTIVE', async () => {
        const r = await call('GET', `${serversPath()}/${created.body.id}`);
        return r.body.status === 'ACTIVE' ? r.body : undefined;
      });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(ACTIVE_AFTER_MS);
      expect(active).toMatchObject({ powerStatus: 'RUNNING', launchedAt: expect.any(String) });
    });

    it('gives distinct IPv4 addresses', async () => {
      const ips = [];
      for (const name of ['ip-1', 'ip-2', 'ip-3']) {
        ips.push((await call('POST', serversPath(), { body: createPayload(name) })).body.nics[0].ipv4);
      }
      expect(new Set(ips).size).toBe(3);
    });

    it('creates one NIC per nicId when networking names NICs', async () => {
      const nicIds = [randomUUID(), randomUUID()];
      const res = await call('POST', serversPath(), { body: createPayload('nics', { networking: { nicIds } }) });
      expect(res.status).toBe(201);
      expect(res.body.nics.map((n: { nicId: string }) => n.nicId)).toEqual(nicIds);
    });

    it('lists by label_selector (key=value, several terms, bare key)', async () => {
      await call('POST', serversPath(), { body: createPayload('l-1', { labels: { pool: 'a', role: 'worker' } }) });
      await call('POST', serversPath(), { body: createPayload('l-2', { labels: { pool: 'b', role: 'worker' } }) });
      await call('POST', serversPath(), { body: createPayload('l-3', { labels: { pool: 'a' } }) });
      const names = async (selector?: string) => {
        const r = await call('GET', serversPath(), { query: selector === undefined ? {} : { label_selector: selector } });
        expect(r.status).toBe(200);
        return r.body.items.map((s: { name: string }) => s.name).sort();
      };

      expect(await names()).toEqual(['l-1', 'l-2', 'l-3']);
      expect(await names('pool=a')).toEqual(['l-1', 'l-3']);
      expect(await names('pool=a,role=worker')).toEqual(['l-1']);
      expect(await names('role')).toEqual(['l-1', 'l-2']);
      expect(await names('pool=c')).toEqual([]);
      expect(fake.requests.at(-1)!.query).toEqual({ label_selector: 'pool=c' });
    });

    it('returns userData, nics and serviceAccountMails only with details=true', async () => {
      const created = await call('POST', serversPath(), {
        body: createPayload('det', {
          userData: Buffer.from('x').toString('base64'),
          serviceAccountMails: ['a@sa.stackit.cloud'],
        }),
      });
      const path = `${serversPath()}/${created.body.id}`;
      const hidden = ['userData', 'nics', 'serviceAccountMails'];

      const plain = await call('GET', path);
      const listed = await call('GET', serversPath());
      for (const field of hidden) {
        expect(plain.body).not.toHaveProperty(field);
        expect(listed.body.items[0]).not.toHaveProperty(field);
      }
      const detailed = await call('GET', path, { query: { details: 'true' } });
      const detailedList = await call('GET', serversPath(), { query: { details: 'true' } });
      for (const field of hidden) {
        expect(detailed.body).toHaveProperty(field);
        expect(detailedList.body.items[0]).toHaveProperty(field);
      }
    });

    it('deletes: 204, DELETING (still listed), then 404', async () => {
      const created = await call('POST', serversPath(), { body: createPayload('del') });
      const path = `${serversPath()}/${created.body.id}`;

      const t0 = Date.now();
      const del = await call('DELETE', path);
      expect(del.status).toBe(204);
      expect(del.body).toBeUndefined();
      expect(del.headers.get('x-request-id')).toBeTruthy();
      const afterDelete = await call('GET', path);
      const listed = await call('GET', serversPath());
      // Deleting again while DELETING is accepted and changes nothing.
      const again = await call('DELETE', path);
      if (Date.now() - t0 < DELETE_AFTER_MS) {
        expect(afterDelete.body.status).toBe('DELETING');
        expect(listed.body.items).toEqual([expect.objectContaining({ status: 'DELETING' })]);
        expect(again.status).toBe(204);
      }

      const gone = await waitFor('404', async () => {
        const r = await call('GET', path);
        return r.status === 404 ? r : undefined;
      });
      expect(gone.body).toEqual({ code: 404, msg: 'server not found' });
      expect((await call('GET', serversPath())).body.items).toEqual([]);
      expect(fake.servers()).toEqual([]);
    });

    it('answers 404 {code, msg} for a missing server on GET and DELETE', async () => {
      const path = `${serversPath()}/${randomUUID()}`;
      for (const method of ['GET', 'DELETE']) {
        const res = await call(method, path);
        expect(res.status).toBe(404);
        expect(res.body).toEqual({ code: 404, msg: 'server not found' });
      }
    });

    it('scopes servers by project and region', async () => {
      const created = await call('POST', serversPath(), { body: createPayload('scoped') });
      expect((await call('GET', `${serversPath(OTHER_PROJECT)}/${created.body.id}`)).status).toBe(404);
      expect((await call('GET', `${serversPath(PROJECT, 'eu02')}/${created.body.id}`)).status).toBe(404);
      expect((await call('DELETE', `${serversPath(OTHER_PROJECT)}/${created.body.id}`)).status).toBe(404);
      expect((await call('GET', serversPath(OTHER_PROJECT))).body.items).toEqual([]);
      expect((await call('GET', serversPath())).body.items).toHaveLength(1);
    });
  });

  describe('boot volumes', () => {
    const bootFromImage = (deleteOnTermination: boolean) => ({
      imageId: undefined,
      bootVolume: {
        size: 20,
        performanceClass: 'storage_premium_perf6',
        deleteOnTermination,
        source: { type: 'image', id: IMAGE },
      },
    });

    it('keeps the boot volume after delete unless deleteOnTermination was true', async () => {
      const keep = await call('POST', serversPath(), { body: createPayload('keep', bootFromImage(false)) });
      const drop = await call('POST', serversPath(), { body: createPayload('drop', bootFromImage(true)) });
      expect(keep.status).toBe(201);
      // Only id and deleteOnTermination are readable; size, performanceClass, source are write-only.
      expect(keep.body.bootVolume).toEqual({ id: expect.any(String), deleteOnTermination: false });
      expect(fake.volumes()).toHaveLength(2);
      expect(fake.volumes().find((v) => v.id === keep.body.bootVolume.id)).toMatchObject({
        size: 20,
        performanceClass: 'storage_premium_perf6',
        serverId: keep.body.id,
        source: { type: 'image', id: IMAGE },
      });

      await call('DELETE', `${serversPath()}/${keep.body.id}`);
      await call('DELETE', `${serversPath()}/${drop.body.id}`);
      await waitFor('both gone', async () => (fake.servers().length === 0 ? true : undefined));

      const volumes = fake.volumes();
      expect(volumes.map((v) => v.id)).toEqual([keep.body.bootVolume.id]);
      expect(volumes[0]!.serverId).toBeUndefined();
    });

    it('boots from an existing volume, in that volume\'s availability zone', async () => {
      const first = await call('POST', serversPath(), {
        body: createPayload('first', { ...bootFromImage(false), availabilityZone: 'eu01-2' }),
      });
      const volumeId = first.body.bootVolume.id;
      await call('DELETE', `${serversPath()}/${first.body.id}`);
      await waitFor('first gone', async () => (fake.servers().length === 0 ? true : undefined));

      const second = await call('POST', serversPath(), {
        body: createPayload('second', { imageId: undefined, bootVolume: { source: { type: 'volume', id: volumeId } } }),
      });
      expect(second.status).toBe(201);
      expect(second.body.bootVolume.id).toBe(volumeId);
      expect(second.body.availabilityZone).toBe('eu01-2');
      expect(fake.volumes()).toEqual([expect.objectContaining({ id: volumeId, serverId: second.body.id })]);
    });
  });

  describe('test controls', () => {
    it('seeds foreign servers and pins a status with errorMessage', async () => {
      const seeded = fake.seedServer({ projectId: PROJECT, region: REGION, name: 'foreign', labels: { 'mcm-machine': 'gone' } });
      expect(seeded.status).toBe('ACTIVE');
      const listed = await call('GET', serversPath(), { query: { label_selector: 'mcm-machine' } });
      expect(listed.body.items).toEqual([expect.objectContaining({ id: seeded.id, name: 'foreign', status: 'ACTIVE' })]);

      fake.setServerStatus(seeded.id, 'ERROR', 'no valid host was found');
      const res = await call('GET', `${serversPath()}/${seeded.id}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: 'ERROR', errorMessage: 'no valid host was found' });
    });

    it('records requests in order, with the authorization header redacted', async () => {
      await call('POST', serversPath(), { body: createPayload('rec') });
      await call('GET', serversPath(), { query: { details: 'true', label_selector: 'mcm-machine=rec' } });
      const [post, list] = fake.requests;
      expect(fake.requests).toHaveLength(2);
      expect(post).toMatchObject({ method: 'POST', path: serversPath(), body: createPayload('rec') });
      expect(post!.headers.authorization).toBe('<redacted>');
      expect(list).toMatchObject({ method: 'GET', query: { details: 'true', label_selector: 'mcm-machine=rec' } });
      expect(JSON.stringify(fake.requests)).not.toContain(TOKEN);
    });

    it('reset() empties state but keeps the requests array identity', () => {
      const requests = fake.requests;
      fake.seedServer({ projectId: PROJECT, region: REGION, name: 'x' });
      fake.injectFault({ status: 500 });
      fake.reset();
      expect(fake.servers()).toEqual([]);
      expect(fake.requests).toBe(requests);
    });
  });

  describe('authentication', () => {
    it('rejects a missing or unknown bearer token with 401', async () => {
      const direct401 = await direct('GET', serversPath(), { token: null });
      expect(direct401.status).toBe(401);
      expect(direct401.body).toEqual({ code: 401, msg: 'Unauthorized' });
      // With our spec Prism answers a missing credential itself (problem+json); the vendor
      // document declares no security scheme, so there the fake's 401 comes through.
      expect((await call('GET', serversPath(), { token: null })).status).toBe(401);

      const wrong = await call('GET', serversPath(), { token: 'not-a-known-token' });
      expect(wrong.status).toBe(401);
      expect(wrong.body).toEqual({ code: 401, msg: 'Unauthorized' });
    });

    it('issues a token for a valid RS512 assertion and accepts it', async () => {
      const res = await postToken(fake, {
        grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
        assertion: await signAssertion(privateKey),
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ access_token: expect.any(String), expires_in: 3600, token_type: 'Bearer', scope: expect.any(String) });
      expect(fake.tokensIssued).toBe(1);
      expect(res.headers.get('x-request-id')).toBeTruthy();

      const listed = await call('GET', serversPath(), { token: res.body.access_token });
      expect(listed.status).toBe(200);
      const tokenRequest = fake.requests.find((r) => r.path === '/token');
      expect(tokenRequest!.body).toMatchObject({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer' });
    });

    it('refuses bad token requests', async () => {
      const grant = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
      const other = await generateKeyPair('RS512');
      const cases: Array<[string, Record<string, string>, number]> = [
        ['wrong grant type', { grant_type: 'client_credentials', assertion: await signAssertion(privateKey) }, 400],
        ['no assertion', { grant_type: grant }, 400],
        ['not a JWT', { grant_type: grant, assertion: 'abc' }, 400],
        ['unknown kid', { grant_type: grant, assertion: await signAssertion(privateKey, { kid: 'other' }) }, 401],
        ['wrong key', { grant_type: grant, assertion: await signAssertion(other.privateKey) }, 401],
        ['missing jti', { grant_type: grant, assertion: await signAssertion(privateKey, { omit: 'jti' }) }, 401],
        ['expired', { grant_type: grant, assertion: await signAssertion(privateKey, { expiresIn: Math.floor(Date.now() / 1000) - 60 }) }, 401],
      ];
      for (const [label, form, status] of cases) {
        const res = await postToken(fake, form);
        expect([label, res.status]).toEqual([label, status]);
        expect(res.body.error).toEqual(expect.any(String));
      }
      expect(fake.tokensIssued).toBe(0);
    });

    it('stops accepting an issued token once it has expired', async () => {
      const keys = await generateKeyPair('RS512');
      const shortLived = await startStackitFake({
        tokenTtlSeconds: 1,
        trustedKeys: [{ kid: KID, publicKeyPem: await exportSPKI(keys.publicKey) }],
      });
      try {
        const res = await postToken(shortLived, {
          grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
          assertion: await signAssertion(keys.privateKey),
        });
        expect(res.body.expires_in).toBe(1);
        const token = res.body.access_token as string;
        expect((await api(shortLived.url, 'GET', serversPath(), { token })).status).toBe(200);
        await new Promise((r) => setTimeout(r, 1_100));
        expect((await api(shortLived.url, 'GET', serversPath(), { token })).status).toBe(401);
      } finally {
        await shortLived.close();
      }
    });
  });

  describe('payload validation', () => {
    it.each<[string, Record<string, unknown>]>([
      ['missing machineType', { machineType: undefined }],
      ['two serviceAccountMails', { serviceAccountMails: ['a@sa.stackit.cloud', 'b@sa.stackit.cloud'] }],
      ['missing networking', { networking: undefined }],
      ['empty networking', { networking: {} }],
      ['networkId and nicIds', { networking: { networkId: NETWORK, nicIds: [randomUUID()] } }],
      ['userData not base64', { userData: 'not base64!' }],
      ['name too long', { name: 'n'.repeat(64) }],
    ])('Prism answers 422 and does not forward: %s', async (_label, change) => {
      const res = await call('POST', serversPath(), { body: createPayload('invalid', change) });
      expect(res.status).toBe(422);
      expect(res.headers.get('content-type')).toMatch(/problem\+json/);
      expect(fake.requests).toEqual([]);
    });

    it('the fake itself answers 400 {code, msg} without Prism', async () => {
      const noNetworking = await direct('POST', serversPath(), { body: createPayload('x', { networking: undefined }) });
      expect(noNetworking.status).toBe(400);
      expect(noNetworking.body).toEqual({ code: 400, msg: expect.stringContaining('networking') });
      const twoMails = await direct('POST', serversPath(), {
        body: createPayload('x', { serviceAccountMails: ['a@sa.stackit.cloud', 'b@sa.stackit.cloud'] }),
      });
      expect(twoMails.status).toBe(400);
      const badProject = await direct('GET', serversPath('not-a-uuid'));
      expect(badProject.body).toEqual({ code: 400, msg: 'invalid uuid' });
      expect(fake.servers()).toEqual([]);
    });

    it('Prism turns a response that violates the spec into a 500', async () => {
      // Sanity check that response validation is really on: imageId must be a UUID.
      const bad = fake.seedServer({ projectId: PROJECT, region: REGION, name: 'bad', imageId: 'not-a-uuid' });
      const res = await call('GET', `${serversPath()}/${bad.id}`);
      expect(res.status).toBe(500);
      expect(res.body.type).toMatch(/VIOLATIONS/);
    });
  });

  describe('fault injection', () => {
    const inject = (f: FaultSpec) => fake.injectFault(f);

    it('status: answers with {code, msg} without touching state, `times` times', async () => {
      inject({ method: 'POST', path: /\/servers$/, status: 503, times: 2, headers: { 'retry-after': '1' } });
      for (let i = 0; i < 2; i++) {
        const res = await call('POST', serversPath(), { body: createPayload('f') });
        expect(res.status).toBe(503);
        expect(res.body).toEqual({ code: 503, msg: 'Service Unavailable' });
        expect(res.headers.get('retry-after')).toBe('1');
      }
      expect(fake.servers()).toEqual([]);
      expect((await call('POST', serversPath(), { body: createPayload('f') })).status).toBe(201);
    });

    it('status: only matching method and path are affected; a custom body is sent as given', async () => {
      inject({ method: 'GET', path: /\/servers\/[^/]+$/, status: 429, body: { code: 429, msg: 'slow down' } });
      expect((await call('GET', serversPath())).status).toBe(200);
      const res = await call('GET', `${serversPath()}/${randomUUID()}`);
      expect(res.status).toBe(429);
      expect(res.body).toEqual({ code: 429, msg: 'slow down' });
    });

    it('delayMs: answers normally after the delay', async () => {
      inject({ delayMs: 400 });
      const t0 = Date.now();
      const res = await call('GET', serversPath());
      expect(res.status).toBe(200);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(390);
    });

    it('reset: the connection is destroyed (Prism turns that into a 500 problem+json)', async () => {
      inject({ reset: true });
      await expect(direct('GET', serversPath())).rejects.toThrow();
      inject({ reset: true });
      const viaPrism = await call('GET', serversPath());
      expect(viaPrism.status).toBe(500);
      expect(viaPrism.headers.get('content-type')).toMatch(/problem\+json/);
      expect((await call('GET', serversPath())).status).toBe(200);
    });

    it('afterSuccess drop: the server is created but the response is lost', async () => {
      inject({ method: 'POST', afterSuccess: 'drop' });
      await expect(direct('POST', serversPath(), { body: createPayload('lost-1') })).rejects.toThrow();
      inject({ method: 'POST', afterSuccess: 'drop' });
      expect((await call('POST', serversPath(), { body: createPayload('lost-2') })).status).toBe(500);

      expect(fake.servers().map((s) => s.name).sort()).toEqual(['lost-1', 'lost-2']);
      const found = await call('GET', serversPath(), { query: { label_selector: 'mcm-machine=lost-2' } });
      expect(found.body.items).toHaveLength(1);
    });

    it('clearFaults() disarms pending faults', async () => {
      inject({ status: 500, times: 5 });
      fake.clearFaults();
      expect((await call('GET', serversPath())).status).toBe(200);
    });
  });
});

describe('STACKIT fake with latencyMs', () => {
  it('answers every request after the delay, and otherwise as usual', async () => {
    const slow = await startStackitFake({ latencyMs: 200, activeAfterMs: 0 });
    try {
      const timed = async (method: string, path: string, opts?: Parameters<typeof api>[3]) => {
        const t0 = Date.now();
        const res = await api(slow.url, method, path, opts);
        return { ...res, ms: Date.now() - t0 };
      };
      const created = await timed('POST', serversPath(), { body: createPayload('slow') });
      expect(created.status).toBe(201);
      expect(created.ms).toBeGreaterThanOrEqual(190);
      const got = await timed('GET', `${serversPath()}/${created.body.id}`);
      expect(got.status).toBe(200);
      expect(got.body.status).toBe('ACTIVE');
      expect(got.ms).toBeGreaterThanOrEqual(190);
      const denied = await timed('GET', serversPath(), { token: null });
      expect(denied.status).toBe(401);
      expect(denied.ms).toBeGreaterThanOrEqual(190);
    } finally {
      await slow.close();
    }
  });
});

describe(`Prism mock (${STACKIT_SPEC})`, () => {
  let mock: PrismProcess;
  beforeAll(async () => {
    mock = await startPrismMock(STACKIT_SPEC);
  });
  afterAll(async () => {
    await mock?.close();
  });

  it('answers GET server from the spec, and a chosen error with Prefer: code=...', async () => {
    const path = `${serversPath()}/${randomUUID()}`;
    const ok = await api(mock.url, 'GET', path);
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual(expect.objectContaining({ name: expect.any(String), machineType: expect.any(String) }));

    const res = await fetch(new URL(path, mock.url), { headers: { authorization: `Bearer ${TOKEN}`, prefer: 'code=404' } });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ code: 404, msg: expect.any(String) });
  });
});
