import { generateKeyPairSync } from 'node:crypto';
import { MachineCode } from '../../src/driver/codes.js';
import { callError } from '../support/call-error.js';
import { CloudSigmaHarness } from '../support/cloudsigma-harness.js';
import { StackitHarness } from '../support/stackit-harness.js';

/**
 * Tokens heal: after the cloud revokes the cached access token (its answer to
 * it becomes 401), the next call still succeeds, because the 401 drops the
 * token and the request is re-sent once with a new one. One refresh is shared
 * by concurrent callers and one caller's cancellation does not fail the others.
 * VPSie is not here: it sends the Secret's API token as it is and fetches no token.
 */

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const keyJson = JSON.stringify({
  id: 'kid-1',
  credentials: { kid: 'kid-1', iss: 'sa@sa.stackit.cloud', sub: 'kid-1', aud: 'https://stackit-service-account-prod.apps.01.cf.eu01.stackit.cloud', privateKey: privateKeyPem },
});

describe('STACKIT key flow', () => {
  let h: StackitHarness;
  beforeAll(async () => {
    h = await StackitHarness.start({ prism: false, fake: { trustedKeys: [{ kid: 'kid-1', publicKeyPem }], staticTokens: [] } });
  });
  afterAll(() => h?.close());
  const secret = () => h.secretData({ token: undefined, 'serviceaccount.json': keyJson });

  test('after the cloud revokes the cached token, the next call succeeds with a new one', async () => {
    await h.client.call('ListMachines', h.listRequest({ secret: secret() }));
    expect(h.fake.tokensIssued).toBe(1);
    h.fake.revokeTokens();
    await h.client.call('ListMachines', h.listRequest({ secret: secret() }));
    expect(h.fake.tokensIssued).toBe(2);
    await h.client.call('ListMachines', h.listRequest({ secret: secret() }));
    expect(h.fake.tokensIssued).toBe(2);
  });

  test('one refresh serves concurrent callers; a caller that gives up does not fail the others', async () => {
    h.fake.revokeTokens();
    h.fake.injectFault({ method: 'POST', path: /^\/token$/, delayMs: 1_500 });
    const before = h.fake.tokensIssued;
    // The deadline ends this call while the shared refresh is still waiting on the token endpoint.
    const impatient = callError(h.client.call('ListMachines', h.listRequest({ secret: secret() }), { deadlineMs: 800 }));
    const patient = Promise.all([1, 2, 3].map(() => h.client.call('ListMachines', h.listRequest({ secret: secret() }))));
    expect((await impatient).code).toBe(MachineCode.DeadlineExceeded);
    await expect(patient).resolves.toHaveLength(3);
    expect(h.fake.tokensIssued - before).toBe(1);
  });

  test('a key that cannot be read is InvalidArgument naming the Secret key, not Unavailable', async () => {
    const bad = JSON.stringify({ ...JSON.parse(keyJson), credentials: { ...JSON.parse(keyJson).credentials, privateKey: '-----BEGIN PRIVATE KEY-----\nnot-a-key\n-----END PRIVATE KEY-----' } });
    const err = await callError(h.client.call('ListMachines', h.listRequest({ secret: h.secretData({ token: undefined, 'serviceaccount.json': bad }) })));
    expect(err.code).toBe(MachineCode.InvalidArgument);
    expect(err.details).toContain('serviceaccount.json');
  });
});

describe('CloudSigma impersonation', () => {
  let h: CloudSigmaHarness;
  beforeAll(async () => {
    h = await CloudSigmaHarness.start({ prism: false });
  });
  afterAll(() => h?.close());

  test('after the cloud revokes every token, the next call succeeds with a new chain', async () => {
    const secret = h.secretData('impersonate');
    await h.client.call('ListMachines', h.listRequest({ secret }));
    const first = { ...h.fake.tokensIssued };
    h.fake.revokeTokens();
    await h.client.call('ListMachines', h.listRequest({ secret }));
    expect(h.fake.tokensIssued.impersonated).toBe(first.impersonated + 1);
  });
});
