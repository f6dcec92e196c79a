import { generateKeyPairSync } from 'node:crypto';
import { MIN_SECRET_LENGTH } from '../../src/observability/live-secrets.js';
import { DEFAULT_USERS } from '../fakes/cloudsigma/index.js';
import { ALICE } from '../support/cloudsigma-harness.js';
import { McmFlow, outcome, startKit, type CloudKit, type CloudName } from '../support/cloud-kits.js';

/**
 * The secret-canary matrix: each kind of secret (Secret values raw, with `[`/`]`, at the shortest
 * redacted length, multi-line; their base64 and URL-encoded forms; tokens derived at run time:
 * STACKIT key-flow access tokens and signed assertions, CloudSigma Basic headers and OAuth /
 * impersonation tokens) × each output (gRPC message, status details, logs at debug level,
 * /metrics) × each error path (a 4xx echoing the whole request, Authorization header and body
 * included, on the cloud API and on the token endpoint; a 5xx echoing it; a timeout; a Secret that
 * fails validation). Every check must find no canary; the count is printed as one summary line.
 * Values shorter than MIN_SECRET_LENGTH are not redacted (README, "Secrets") and not in the matrix.
 */

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PRIVATE_KEY_PEM = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const PUBLIC_KEY_PEM = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const KEY_JSON = JSON.stringify({
  id: 'kid-canary',
  credentials: { kid: 'kid-canary', iss: 'sa@sa.stackit.cloud', sub: 'kid-canary', aud: 'https://stackit-service-account-prod.apps.01.cf.eu01.stackit.cloud', privateKey: PRIVATE_KEY_PEM },
});

const C = {
  token: 'canary-[tok]-5e1f0c2a9b',
  password: 'canary-[pw]-77d2e4',
  shortPassword: 'p[w]d!x1'.slice(0, Math.max(MIN_SECRET_LENGTH, 6)),
  clientSecret: 'canary-client-[secret]-c0ffee',
  accountPassword: 'canary-[account]-pw-3d9f',
  userData: '#cloud-config\nruncmd:\n  - echo canary-[userdata]-91ab3c\n',
};

interface SecretConfig {
  name: string;
  secret: (kit: CloudKit) => Record<string, Buffer>;
  /** What must never appear, given what the fakes saw (derived tokens are known only afterwards). */
  needles: (kit: CloudKit) => Array<[kind: string, value: string]>;
  /** Token endpoint path, for configs that fetch tokens. */
  tokenPath?: RegExp;
  /** A Secret with these canaries that fails validation. */
  invalid: (kit: CloudKit) => Record<string, Buffer>;
}

const encoded = (v: string): Array<[string, string]> => [
  ['base64', Buffer.from(v).toString('base64')],
  ['url-encoded', encodeURIComponent(v)],
];
const userDataNeedles = (): Array<[string, string]> => [['Secret value userData (brackets)', 'canary-[userdata]-91ab3c'], ...encoded(C.userData).map(([k, v]): [string, string] => [`userData ${k}`, v])];
const derived = (kit: CloudKit): Array<[string, string]> => kit.issuedTokens().map((t): [string, string] => ['derived access token', t]);
const assertions = (kit: CloudKit): Array<[string, string]> =>
  kit
    .requests()
    .map((r) => (r.body as { assertion?: unknown } | undefined)?.assertion)
    .filter((a): a is string => typeof a === 'string')
    .map((a): [string, string] => ['derived signed assertion', a]);

const CONFIGS: Record<CloudName, SecretConfig[]> = {
  stackit: [
    {
      name: 'static token',
      secret: (k) => k.secretData({ token: C.token, userData: C.userData }),
      needles: () => [['Secret value token (brackets)', C.token], ...encoded(C.token), ...userDataNeedles()],
      invalid: (k) => k.secretData({ token: C.token, 'serviceaccount.json': KEY_JSON, userData: C.userData }),
    },
    {
      name: 'key flow',
      secret: (k) => k.secretData({ token: undefined, 'serviceaccount.json': KEY_JSON, userData: C.userData }),
      needles: (k) => [
        ...PRIVATE_KEY_PEM.split('\n').filter((l) => l.length >= 16 && !l.startsWith('-----')).map((l): [string, string] => ['Secret value private key line', l]),
        ...userDataNeedles(),
        ...derived(k),
        ...assertions(k),
      ],
      tokenPath: /^\/token$/,
      invalid: (k) => k.secretData({ token: C.token, 'serviceaccount.json': KEY_JSON, userData: C.userData }),
    },
  ],
  cloudsigma: [
    {
      name: 'basic auth, short password',
      secret: (k) => k.secretData({ username: ALICE, password: C.shortPassword, userData: C.userData }),
      needles: () => [
        [`Secret value password (${C.shortPassword.length} chars, brackets)`, C.shortPassword],
        ['derived Basic header', Buffer.from(`${ALICE}:${C.shortPassword}`).toString('base64')],
        ...userDataNeedles(),
      ],
      invalid: (k) => k.secretData({ username: ALICE, password: C.shortPassword, token: C.token, userData: C.userData }),
    },
    {
      name: 'impersonation',
      secret: (k) =>
        k.secretData({ username: undefined, password: undefined, 'oauth-client-id': 'mcm-partner', 'oauth-client-secret': C.clientSecret, 'impersonate-user': ALICE, userData: C.userData }),
      needles: (k) => [['Secret value client secret (brackets)', C.clientSecret], ...encoded(C.clientSecret), ...userDataNeedles(), ...derived(k)],
      tokenPath: /\/protocol\/openid-connect\/token$/,
      invalid: (k) => k.secretData({ username: undefined, password: C.password, 'oauth-client-id': 'mcm-partner', 'oauth-client-secret': C.clientSecret, userData: C.userData }),
    },
  ],
  vpsie: [
    {
      name: 'api token',
      secret: (k) => k.secretData({ 'api-token': C.token, 'account-password': C.accountPassword, userData: C.userData }),
      needles: () => [['Secret value api-token (brackets)', C.token], ['Secret value account-password', C.accountPassword], ...encoded(C.token), ...userDataNeedles()],
      invalid: (k) => k.secretData({ 'api-token': C.token, 'account-password': undefined, userData: C.userData }),
    },
  ],
};

const FAKE_OPTIONS: Record<CloudName, object> = {
  stackit: { staticTokens: [C.token], trustedKeys: [{ kid: 'kid-canary', publicKeyPem: PUBLIC_KEY_PEM }] },
  cloudsigma: {
    users: [{ ...DEFAULT_USERS[0]!, password: C.shortPassword }, DEFAULT_USERS[1]!],
    serviceProvider: { clientId: 'mcm-partner', clientSecret: C.clientSecret },
  },
  vpsie: { tokens: [C.token], accountPassword: C.accountPassword },
};

const totals = { checks: 0, leaks: [] as string[] };

afterAll(() => {
  process.stdout.write(`secret canary matrix: ${totals.checks} checks, ${totals.leaks.length} leaks\n`);
});

describe.each(Object.keys(CONFIGS) as CloudName[])('%s', (cloud) => {
  let kit: CloudKit;
  beforeAll(async () => {
    kit = await startKit(cloud, { fake: FAKE_OPTIONS[cloud], httpTimeoutMs: 400 });
  });
  afterAll(() => kit?.close());

  test.each(CONFIGS[cloud].map((c) => [c.name, c] as const))('%s: no canary in any output on any error path', async (_name, config) => {
    kit.reset();
    const secret = config.secret(kit);
    const machine = `alpha-worker-z1-mx${cloud.length}`;
    const req = (o: { providerID?: string } = {}) => kit.request(machine, { ...o, secret });
    const flow = new McmFlow(kit.call, (name, o) => kit.request(name, { ...o, secret }), machine);
    const vm = await flow.untilRunning();

    type Cell = { path: string; grpc: string; details: string; logs: string; metrics: string };
    const cells: Cell[] = [];
    const run = async (path: string, call: () => Promise<unknown>, expectRedacted: boolean) => {
      const logStart = kit.logs.length;
      const r = await outcome(call());
      kit.clearFaults();
      expect({ path, failed: r.code !== 0 }).toEqual({ path, failed: true });
      if (expectRedacted) expect({ path, details: r.error!.details }).toEqual({ path, details: expect.stringContaining('<redacted>') });
      cells.push({ path, grpc: r.error?.details ?? '', details: JSON.stringify(r.error?.response ?? {}), logs: kit.logs.slice(logStart).join('\n'), metrics: await kit.metrics() });
    };
    const get = () => kit.call('GetMachineStatus', req({ providerID: vm.providerId }));

    kit.injectFault({ method: kit.paths.create.method, path: kit.paths.create.path, status: 400, echoRequest: true });
    await run('4xx echoing the create request', () => kit.call('CreateMachine', kit.request(`${machine}-b`, { secret })), true);
    kit.injectFault({ method: kit.paths.get.method, path: kit.paths.get.path, status: 400, echoRequest: true, times: 5 });
    await run('4xx echoing a read', get, true);
    kit.injectFault({ method: kit.paths.get.method, path: kit.paths.get.path, status: 500, echoRequest: true, times: 20 });
    await run('5xx echoing a read', get, false);
    kit.injectFault({ method: kit.paths.get.method, path: kit.paths.get.path, delayMs: 1_000, times: 20 });
    await run('timeout', () => kit.call('GetMachineStatus', req({ providerID: vm.providerId }), 2_500), false);
    if (config.tokenPath) {
      kit.revokeTokens();
      kit.injectFault({ method: 'POST', path: config.tokenPath, status: 400, echoRequest: true });
      await run('4xx echoing the token request', get, false);
    }
    await run('validation', () => kit.call('CreateMachine', kit.request(`${machine}-c`, { secret: config.invalid(kit) })), false);
    await outcome(kit.call('DeleteMachine', req({ providerID: vm.providerId })));

    const needles = config.needles(kit);
    expect(needles.length).toBeGreaterThan(0);
    const leaks: string[] = [];
    let checks = 0;
    for (const cell of cells) {
      for (const [output, text] of Object.entries({ 'gRPC message': cell.grpc, 'status details': cell.details, 'logs (debug)': cell.logs, metrics: cell.metrics })) {
        for (const [kind, value] of needles) {
          checks += 1;
          if (text.includes(value)) leaks.push(`${cloud}/${config.name}: ${kind} in ${output} on ${cell.path}`);
        }
      }
    }
    totals.checks += checks;
    totals.leaks.push(...leaks);
    process.stdout.write(`secret canary matrix ${cloud}/${config.name}: ${cells.length} paths x 4 outputs x ${needles.length} secrets = ${checks} checks, ${leaks.length} leaks\n`);
    expect(leaks).toEqual([]);
  });
});
