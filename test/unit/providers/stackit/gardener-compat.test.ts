// The small rules behind issue 11: unset values, the cluster marker, allowedAddresses merging and
// the endpoint env names with their precedence.
import nock from 'nock';
import { isolateNock } from '../../nock-isolation.js';
import { withAllowedAddresses } from '../../../../src/providers/stackit/allowed-addresses.js';
import { CLUSTER_LABEL, GARDENER_CLUSTER_LABEL, clusterMarker } from '../../../../src/providers/stackit/markers.js';
import { StackitProvider } from '../../../../src/providers/stackit/stackit-provider.js';
import { dropUnset } from '../../../../src/providers/stackit/unset-fields.js';
import { listed } from '../../../support/listed.js';

const PROJECT = '3f1c2a4b-5d6e-4f70-8a9b-0c1d2e3f4a5b';
const cls = { name: 'alpha-worker-z1', namespace: 'shoot--garden--alpha', provider: 'STACKIT', providerSpec: { region: 'eu01' } };
const secret = { 'project-id': Buffer.from(PROJECT), token: Buffer.from('tok') };
const ENV = ['STACKIT_IAAS_ENDPOINT', 'STACKIT_API_ENDPOINT', 'STACKIT_TOKEN_BASEURL', 'STACKIT_TOKEN_ENDPOINT'];

isolateNock();
afterEach(() => {
  for (const name of ENV) delete process.env[name];
});

test('null, empty strings, lists and objects are unset; label values stay as given', () => {
  expect(
    dropUnset({
      region: 'eu01',
      keypairName: null,
      availabilityZone: '',
      securityGroups: [],
      agent: {},
      bootVolume: { size: null, performanceClass: null, source: { type: 'image', id: 'x' } },
      labels: { 'kubernetes.io/cluster': 'shoot--a', empty: '' },
    }),
  ).toEqual({ region: 'eu01', bootVolume: { source: { type: 'image', id: 'x' } }, labels: { 'kubernetes.io/cluster': 'shoot--a', empty: '' } });
});

test('kubernetes.io/cluster in the class labels is the cluster marker; otherwise the namespace marker', () => {
  expect(clusterMarker({ [GARDENER_CLUSTER_LABEL]: 'shoot--p--a' }, 'ns')).toEqual({ key: GARDENER_CLUSTER_LABEL, value: 'shoot--p--a' });
  expect(clusterMarker({ team: 'x' }, 'ns')).toEqual({ key: CLUSTER_LABEL, value: 'ns' });
  expect(clusterMarker(undefined, 'ns')).toEqual({ key: CLUSTER_LABEL, value: 'ns' });
});

test('allowedAddresses: adds what is missing, keeps what the NIC had, nothing when all are there', () => {
  expect(withAllowedAddresses(['10.0.0.5'], ['100.64.0.0/12'])).toEqual(['10.0.0.5', '100.64.0.0/12']);
  expect(withAllowedAddresses(undefined, ['100.64.0.0/12'])).toEqual(['100.64.0.0/12']);
  expect(withAllowedAddresses(['100.64.0.0/12', '10.0.0.5'], ['100.64.0.0/12'])).toBeUndefined();
});

const listPath = `/v2/projects/${PROJECT}/regions/eu01/servers`;
async function listVia(env: Record<string, string>): Promise<void> {
  Object.assign(process.env, env);
  const session = await new StackitProvider({ retry: { limit: 0 }, httpTimeoutMs: 1_000 }).open(cls, secret, 'manage');
  await listed(session.list(new AbortController().signal));
}

test('STACKIT_IAAS_ENDPOINT (Gardener, the SDK) wins over the alias STACKIT_API_ENDPOINT; the alias alone works', async () => {
  const gardener = nock('http://iaas.gardener.test').get(listPath).query(true).reply(200, { items: [] });
  await listVia({ STACKIT_IAAS_ENDPOINT: 'http://iaas.gardener.test', STACKIT_API_ENDPOINT: 'http://iaas.alias.test' });
  expect(gardener.isDone()).toBe(true);
  for (const name of ENV) delete process.env[name];
  const alias = nock('http://iaas.alias.test').get(listPath).query(true).reply(200, { items: [] });
  await listVia({ STACKIT_API_ENDPOINT: 'http://iaas.alias.test' });
  expect(alias.isDone()).toBe(true);
});

test('STACKIT_TOKEN_BASEURL is the full token URL and wins over STACKIT_TOKEN_ENDPOINT', async () => {
  const { generateKeyPairSync } = await import('node:crypto');
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = { credentials: { kid: 'k', iss: 'i@sa.stackit.cloud', sub: 's', aud: 'a', privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() } };
  const token = nock('http://token.gardener.test').post('/custom/token/path').reply(200, { access_token: 'at', expires_in: 600, token_type: 'Bearer' });
  const iaas = nock('http://iaas.gardener.test').get(listPath).query(true).matchHeader('authorization', 'Bearer at').reply(200, { items: [] });
  Object.assign(process.env, {
    STACKIT_IAAS_ENDPOINT: 'http://iaas.gardener.test',
    STACKIT_TOKEN_BASEURL: 'http://token.gardener.test/custom/token/path',
    STACKIT_TOKEN_ENDPOINT: 'http://token.alias.test/token',
  });
  const session = await new StackitProvider({ retry: { limit: 0 }, httpTimeoutMs: 1_000 }).open(
    cls,
    { 'project-id': Buffer.from(PROJECT), 'serviceaccount.json': Buffer.from(JSON.stringify(key)) },
    'manage',
  );
  await listed(session.list(new AbortController().signal));
  expect(token.isDone()).toBe(true);
  expect(iaas.isDone()).toBe(true);
});
