// Impersonation (a service-provider account acting for a sub-user) and the meaning of 403
// ("exists, but not yours to see"), against the fake behind Prism. The fake has owners per
// user: alice is the impersonated sub-user, bob another user of the same cloud.
import { MachineCode } from '../../src/driver/codes.js';
import { ALICE, BOB, CLASS_NAME, CloudSigmaHarness, NAMESPACE, callError, type Status } from '../support/cloudsigma-harness.js';
import { FAKE_PARTNER } from '../fakes/cloudsigma/index.js';

let h: CloudSigmaHarness;

beforeAll(async () => {
  h = await CloudSigmaHarness.start();
});
afterAll(async () => {
  await h.close();
});
beforeEach(() => h.fake.reset());

const markers = (machine: string) => ({
  'kubernetes.io/machine': machine,
  'kubernetes.io/machineclass': CLASS_NAME,
  'mcm-grpc-driver.io/cluster': NAMESPACE,
});

describe('impersonation', () => {
  test('every call acts as the sub-user: servers and drives are made under it, and only its servers are seen', async () => {
    const secret = h.secretData('impersonate');
    const bobs = h.fake.seedServer({ owner: BOB, name: 'alpha-worker-z1-bob', meta: markers('alpha-worker-z1-bob') });
    const created = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-imp', { secret }));
    expect(h.serversOf(ALICE)).toHaveLength(1);
    expect(h.drivesOf(ALICE)).toHaveLength(1);
    expect(h.serversOf(BOB)).toHaveLength(1);

    const list = await h.client.call<{ machineList: Record<string, string> }>('ListMachines', h.listRequest({ secret }));
    expect(list.machineList).toEqual({ [created.providerId]: 'alpha-worker-z1-imp' });
    expect(Object.keys(list.machineList)).not.toContain(`cloudsigma://${bobs.uuid}`);

    // Every API call carried the impersonated token (Bearer), none the partner's own credentials.
    const api = h.apiRequests();
    expect(api.length).toBeGreaterThan(5);
    for (const r of api) {
      expect(r.user).toBe(ALICE);
      expect(r.headers.authorization).toBe('Bearer <redacted>');
    }
  });

  test('the token exchange (client credentials → RPT → impersonate) runs once and is cached across calls', async () => {
    const secret = h.secretData('impersonate', { 'impersonate-user': BOB });
    await Promise.all(Array.from({ length: 5 }, (_, i) => h.client.call('CreateMachine', h.request(`alpha-worker-z1-tok${i}`, { secret }))));
    await h.client.call('ListMachines', h.listRequest({ secret }));
    expect(h.serversOf(BOB)).toHaveLength(5);
    expect(h.fake.tokensIssued).toEqual({ serviceAccount: 1, rpt: 1, impersonated: 1 });
    const exchange = h.fake.requests.filter((r) => !r.path.startsWith('/api/2.0/'));
    expect(exchange.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /realms/cloudsigma/protocol/openid-connect/token',
      'POST /realms/cloudsigma/protocol/openid-connect/token',
      'POST /service_provider/api/v1/user/impersonate',
    ]);
    expect(exchange[0]!.body).toMatchObject({ grant_type: 'client_credentials', client_id: FAKE_PARTNER.clientId });
    expect(exchange[1]!.body).toEqual({ grant_type: 'urn:ietf:params:oauth:grant-type:uma-ticket', audience: 'service_provider_api' });
    expect(exchange[2]!.body).toMatchObject({ user_email: BOB });
  });

  test('the impersonated user is logged; no credential or token is', async () => {
    const secret = h.secretData('impersonate');
    h.logs.length = 0;
    await h.client.call('CreateMachine', h.request('alpha-worker-z1-log', { secret }));
    const logs = h.logs.join('\n');
    expect(logs).toContain('"impersonatedUser":"alice@example.com"');
    expect(logs).not.toContain(FAKE_PARTNER.clientSecret);
    expect(logs).not.toMatch(/imp-[0-9a-f]{24}|sa-[0-9a-f]{24}|rpt-[0-9a-f]{24}/);
  });

  test('a wrong client secret ends Unauthenticated, without the secret in the message', async () => {
    const secret = h.secretData('impersonate', { 'oauth-client-secret': 'wrong-secret-canary-51' });
    const err = await callError(h.client.call('GetMachineStatus', h.request('alpha-worker-z1-bad', { secret })));
    expect(err.code).toBe(MachineCode.Unauthenticated);
    expect(err.details).not.toContain('wrong-secret-canary-51');
    expect(h.apiRequests()).toHaveLength(0);
  });

  test('a revoked impersonated token (401) is dropped and the read is re-sent once with a new one, within the call', async () => {
    const secret = h.secretData('impersonate');
    await h.client.call('ListMachines', h.listRequest({ secret }));
    const before = h.fake.tokensIssued.impersonated;
    await h.client.call('ListMachines', h.listRequest({ secret }));
    expect(h.fake.tokensIssued.impersonated).toBe(before);
    h.fake.injectFault({ method: 'GET', path: /^\/api\/2\.0\/servers\/detail\/$/, status: 401 });
    // The re-sent listing succeeds: the Machine has no VM, which is NotFound, not Unauthenticated.
    const err = await callError(h.client.call('GetMachineStatus', h.request('alpha-worker-z1-rev', { secret })));
    expect(err.code).toBe(MachineCode.NotFound);
    expect(h.fake.tokensIssued.impersonated).toBe(before + 1);
    // A 401 on the re-sent request too reaches MCM as Unauthenticated (the request is re-sent only once).
    h.fake.injectFault({ method: 'GET', path: /^\/api\/2\.0\/servers\/detail\/$/, status: 401, times: 2 });
    expect((await callError(h.client.call('GetMachineStatus', h.request('alpha-worker-z1-rev', { secret })))).code).toBe(MachineCode.Unauthenticated);
  });

  test('Basic and token credentials act as their own user', async () => {
    await h.client.call('CreateMachine', h.request('alpha-worker-z1-basic', { secret: h.secretData('basic') }));
    await h.client.call('CreateMachine', h.request('alpha-worker-z1-token', { secret: h.secretData('token') }));
    expect(h.serversOf(ALICE)).toHaveLength(2);
    const schemes = new Set(h.apiRequests().map((r) => r.headers.authorization));
    expect(schemes).toEqual(new Set(['Basic <redacted>', 'Bearer <redacted>']));
  });
});

describe('403: the server exists but is not ours to see', () => {
  test('GetMachineStatus with a stale providerID (403) reports the accessible server with this Machine’s markers', async () => {
    const secret = h.secretData('impersonate');
    const stale = h.fake.seedServer({ owner: BOB, name: 'alpha-worker-z1-heal', meta: markers('alpha-worker-z1-heal') });
    const current = h.fake.seedServer({ owner: ALICE, name: 'alpha-worker-z1-heal', meta: markers('alpha-worker-z1-heal') });
    const status = await h.client.call<Status>('GetMachineStatus', h.request('alpha-worker-z1-heal', { secret, providerID: `cloudsigma://${stale.uuid}` }));
    expect(status.providerId).toBe(`cloudsigma://${current.uuid}`);
    expect(status.nodeName).toBe('alpha-worker-z1-heal');
    expect(h.fake.requests.some((r) => r.path === `/api/2.0/servers/${stale.uuid}/`)).toBe(true);
    expect(h.logs.join('\n')).toContain('stored providerID is not accessible');
  });

  test('with no accessible replacement: PermissionDenied an operator can act on, never NotFound, and nothing is created', async () => {
    const secret = h.secretData('impersonate');
    const foreign = h.fake.seedServer({ owner: BOB, name: 'alpha-worker-z1-403', meta: markers('alpha-worker-z1-403') });
    const providerID = `cloudsigma://${foreign.uuid}`;
    const status = await callError(h.client.call('GetMachineStatus', h.request('alpha-worker-z1-403', { secret, providerID })));
    expect(status.code).toBe(MachineCode.PermissionDenied);
    expect(status.details).toContain(providerID);
    expect(status.details).toMatch(/credentials may not access it/);
    expect(status.details).toContain('will not create a second VM');
    expect(status.details).not.toMatch(/[[\]]/);

    // Even if CreateMachine came (MCM does not send it after PermissionDenied): no second server.
    const create = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-403', { secret, providerID })));
    expect(create.code).toBe(MachineCode.PermissionDenied);
    expect(create.details).toContain('impersonated user');
    expect(h.cloneRequests()).toHaveLength(0);
    expect(h.createRequests()).toHaveLength(0);
    expect(h.serversOf(ALICE)).toHaveLength(0);
  });

  test('DeleteMachine of a server answering 403: PermissionDenied with the cloud’s reason, nothing deleted', async () => {
    const foreign = h.fake.seedServer({ owner: BOB, name: 'alpha-worker-z1-d403', meta: markers('alpha-worker-z1-d403') });
    const err = await callError(h.client.call('DeleteMachine', h.request('alpha-worker-z1-d403', { providerID: `cloudsigma://${foreign.uuid}` })));
    expect(err.code).toBe(MachineCode.PermissionDenied);
    expect(err.details).toContain(`CloudSigma server ${foreign.uuid} at zrh exists but the Secret’s user may not access it`);
    expect(err.details).toContain('does not have all of the permissions (LIST)');
    expect(h.fake.servers()).toHaveLength(1);
    expect(h.fake.requests.filter((r) => r.method !== 'GET')).toHaveLength(0);
  });

  test('a server of another user that carries our markers is never listed, adopted or deleted', async () => {
    const secret = h.secretData('impersonate');
    const foreign = h.fake.seedServer({ owner: BOB, name: 'alpha-worker-z1-twin', meta: markers('alpha-worker-z1-twin') });
    const list = await h.client.call<{ machineList: Record<string, string> }>('ListMachines', h.listRequest({ secret }));
    expect(list.machineList).toEqual({});
    const created = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-twin', { secret }));
    expect(created.providerId).not.toContain(foreign.uuid);
    await h.client.call('DeleteMachine', h.request('alpha-worker-z1-twin', { secret }));
    expect(h.fake.servers().map((s) => s.uuid)).toEqual([foreign.uuid]);
  });
});
