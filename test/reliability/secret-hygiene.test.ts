import { DEFAULT_USERS } from '../fakes/cloudsigma/index.js';
import { CLOUDS, McmFlow, outcome, startKit, type CloudKit, type CloudName } from '../support/cloud-kits.js';

/**
 * Secret hygiene on every cloud: canary values in every Secret key the cloud reads (token,
 * password, key JSON with a private key, userData), a whole lifecycle, then failures (a 4xx whose
 * message echoes the credentials, a 5xx body full of them, refused credentials, a key that cannot
 * be used, a Secret that fails validation). No canary (nor its base64) may appear in the captured
 * logs, a gRPC error message, a lastKnownState, or /metrics, although the fakes' error answers
 * carried them.
 */

const CANARY = {
  token: 'canary-token-5e1f0c2a9b',
  password: 'canary-password-77d2e4',
  privateKey: 'canary-private-key-c0ffee4242',
  userData: '#cloud-config\nruncmd:\n  - echo canary-userdata-91ab3c\n',
  wrong: 'canary-wrong-credential-3d9f',
};
const NEEDLES = [CANARY.token, CANARY.password, CANARY.privateKey, 'canary-userdata-91ab3c', CANARY.wrong, Buffer.from(CANARY.userData).toString('base64')];

const FAKE_OPTIONS: Record<CloudName, object> = {
  stackit: { staticTokens: [CANARY.token] },
  cloudsigma: { users: [{ ...DEFAULT_USERS[0]!, password: CANARY.password, tokens: [CANARY.token] }, DEFAULT_USERS[1]!] },
  vpsie: { tokens: [CANARY.token], accountPassword: CANARY.password },
};

/** The Secret with canaries in every key the cloud reads. */
function canarySecret(kit: CloudKit, cloud: CloudName, extra: Record<string, string | undefined> = {}) {
  const keys: Record<CloudName, Record<string, string | undefined>> = {
    stackit: { token: CANARY.token, userData: CANARY.userData },
    cloudsigma: { password: CANARY.password, userData: CANARY.userData },
    vpsie: { 'api-token': CANARY.token, 'account-password': CANARY.password, userData: CANARY.userData },
  };
  return kit.secretData({ ...keys[cloud], ...extra });
}

/** A key JSON whose private key is a canary (it cannot sign anything). */
const keyJson = JSON.stringify({
  id: 'kid-canary',
  credentials: { kid: 'kid-canary', iss: 'sa@sa.stackit.cloud', sub: 'kid-canary', aud: 'https://stackit', privateKey: `-----BEGIN PRIVATE KEY-----\n${CANARY.privateKey}\n-----END PRIVATE KEY-----` },
});

/** Secrets that must fail, each with canaries in it. */
function failingSecrets(kit: CloudKit, cloud: CloudName): Array<[string, Record<string, Buffer>]> {
  switch (cloud) {
    case 'stackit':
      return [
        ['refused token', canarySecret(kit, cloud, { token: CANARY.wrong })],
        ['unusable key JSON', canarySecret(kit, cloud, { token: undefined, 'serviceaccount.json': keyJson })],
        ['token and key both given', canarySecret(kit, cloud, { 'serviceaccount.json': keyJson })],
      ];
    case 'cloudsigma':
      return [
        ['refused password', canarySecret(kit, cloud, { password: CANARY.wrong })],
        ['password and token both given', canarySecret(kit, cloud, { token: CANARY.token })],
      ];
    case 'vpsie':
      return [
        ['refused token', canarySecret(kit, cloud, { 'api-token': CANARY.wrong })],
        ['wrong account password (delete)', canarySecret(kit, cloud, { 'account-password': CANARY.wrong })],
      ];
  }
}

/** The cloud's 4xx answer echoing the request's credentials (those its Secret holds) back, in its own format. */
function echoingError(cloud: CloudName): unknown {
  const echoed: Record<CloudName, string> = {
    stackit: `token ${CANARY.token}`,
    cloudsigma: `password ${CANARY.password}`,
    vpsie: `token ${CANARY.token} password ${CANARY.password}`,
  };
  const msg = `invalid request: ${echoed[cloud]} userData ${CANARY.userData}`;
  if (cloud === 'stackit') return { code: 400, msg };
  if (cloud === 'cloudsigma') return [{ error_type: 'validation', error_message: msg, error_point: null }];
  return { error: true, code: 400, message: msg };
}

describe.each(CLOUDS)('%s', (cloud) => {
  let kit: CloudKit;
  beforeAll(async () => {
    kit = await startKit(cloud, { fake: FAKE_OPTIONS[cloud] });
  });
  afterAll(async () => {
    await kit?.close();
  });

  test('no canary in logs, gRPC errors, lastKnownState or metrics, through a lifecycle and failures', async () => {
    kit.reset();
    const seen: string[] = [];
    const record = (r: Awaited<ReturnType<typeof outcome>>) => {
      if (r.error) seen.push(r.error.details, String(r.error.response?.lastKnownState ?? ''), JSON.stringify(r.error.response ?? {}));
      if (r.value) seen.push(JSON.stringify(r.value));
      return r;
    };
    const secret = canarySecret(kit, cloud);
    const req = (name: string, o: { providerID?: string; lastKnownState?: string } = {}) => kit.request(name, { ...o, secret });
    const callers = { call: kit.call, request: req };

    // A lifecycle with canaries.
    const flow = new McmFlow(callers.call, callers.request, 'alpha-worker-z1-canary');
    const vm = await flow.untilRunning();
    record(await outcome(kit.call('GetMachineStatus', req('alpha-worker-z1-canary', { providerID: vm.providerId }))));
    record(await outcome(kit.call('ListMachines', kit.listRequest({ secret }))));

    // The cloud echoes the credentials in a 4xx, and dumps them in a 5xx body.
    kit.injectFault({ method: kit.paths.create.method, path: kit.paths.create.path, status: 400, body: echoingError(cloud) });
    const echoed = record(await outcome(kit.call('CreateMachine', req('alpha-worker-z1-canary2'))));
    expect(echoed.code).not.toBe(0);
    expect(echoed.error!.details).toContain('<redacted>');
    kit.injectFault({ method: kit.paths.get.method, path: kit.paths.get.path, status: 500, body: echoingError(cloud), times: 10 });
    record(await outcome(kit.call('GetMachineStatus', req('alpha-worker-z1-canary', { providerID: vm.providerId }))));
    kit.clearFaults();

    // Credentials the cloud refuses, keys that cannot be used, Secrets that fail validation.
    for (const [what, bad] of failingSecrets(kit, cloud)) {
      const r = record(await outcome(kit.call(what.includes('delete') ? 'DeleteMachine' : 'CreateMachine', kit.request('alpha-worker-z1-canary', { providerID: what.includes('delete') ? vm.providerId : '', secret: bad }))));
      expect({ what, failed: r.code !== 0 }).toEqual({ what, failed: true });
    }
    record(await outcome(kit.call('DeleteMachine', req('alpha-worker-z1-canary', { providerID: vm.providerId }))));

    const places: Record<string, string> = {
      'gRPC errors and responses': seen.join('\n'),
      logs: kit.logs.join('\n'),
      metrics: await kit.metrics(),
    };
    const leaks = Object.entries(places).flatMap(([where, text]) => NEEDLES.filter((n) => text.includes(n)).map((n) => `${n} in ${where}`));
    process.stdout.write(`secrets ${cloud}: ${JSON.stringify({ calls: flow.codes.length + seen.length, canaries: NEEDLES.length, leaked: leaks.length })}\n`);
    expect(leaks).toEqual([]);
    // The canaries did reach the fakes where they belong (the test would prove nothing otherwise).
    expect(kit.logs.length).toBeGreaterThan(5);
  });
});
