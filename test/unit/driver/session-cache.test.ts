import type { MachineClassRef, SecretData } from '../../../src/driver/provider.js';
import { SessionCache } from '../../../src/driver/session-cache.js';
import { ProviderRegistry } from '../../../src/driver/provider-registry.js';
import { defaultProviders } from '../../../src/providers/index.js';
import { StackitProvider } from '../../../src/providers/stackit/stackit-provider.js';
import { BASE_SPEC, CLASS_NAME, NAMESPACE, PROJECT_ID, STATIC_TOKEN } from '../../support/stackit-harness.js';

const cls = (spec: object = BASE_SPEC): MachineClassRef => ({ name: CLASS_NAME, namespace: NAMESPACE, provider: 'STACKIT', providerSpec: JSON.parse(JSON.stringify(spec)) });
const secret = (token = STATIC_TOKEN): SecretData => ({ 'project-id': Buffer.from(PROJECT_ID), token: Buffer.from(token) });

/** The real STACKIT adapter, counting how often it is asked to open (validation, decoding, client lookup). */
function countingStackit(): { provider: StackitProvider; opens: () => number } {
  const provider = new StackitProvider({ iaasEndpoint: 'http://127.0.0.1:1' });
  let n = 0;
  const open = provider.open.bind(provider);
  provider.open = (...args) => {
    n++;
    return open(...args);
  };
  return { provider, opens: () => n };
}

test('the same class bytes and Secret reuse one validated session; each call passes new but equal objects', async () => {
  const { provider, opens } = countingStackit();
  const cache = new SessionCache();
  const a = await cache.open(provider, cls(), secret(), 'manage');
  const b = await cache.open(provider, cls(), secret(), 'manage');
  expect(b).toBe(a);
  expect(opens()).toBe(1);
});

test('a rotated Secret opens a new session on the very next call', async () => {
  const { provider, opens } = countingStackit();
  const cache = new SessionCache();
  const before = await cache.open(provider, cls(), secret('token-before-rotation'), 'manage');
  const after = await cache.open(provider, cls(), secret('token-after-rotation'), 'manage');
  expect(after).not.toBe(before);
  expect(opens()).toBe(2);
});

test('an edited class and a different purpose are different sessions', async () => {
  const { provider } = countingStackit();
  const cache = new SessionCache();
  const manage = await cache.open(provider, cls(), secret(), 'manage');
  const create = await cache.open(provider, cls(), secret(), 'create');
  const edited = await cache.open(provider, cls({ ...BASE_SPEC, machineType: 'c1.3' }), secret(), 'manage');
  expect(create).not.toBe(manage);
  expect(edited).not.toBe(manage);
  expect(cache.size).toBe(3);
});

test('a refused class is not kept: it is validated again, and once fixed it opens', async () => {
  const { provider, opens } = countingStackit();
  const cache = new SessionCache();
  const broken = cls({ ...BASE_SPEC, region: 42 });
  await expect(cache.open(provider, broken, secret(), 'manage')).rejects.toThrow(/machineClass\.providerSpec\.region/);
  await expect(cache.open(provider, cls({ ...BASE_SPEC, region: 42 }), secret(), 'manage')).rejects.toThrow(/region/);
  expect(opens()).toBe(2);
  expect(cache.size).toBe(0);
  await expect(cache.open(provider, cls(), secret(), 'manage')).resolves.toBeDefined();
});

test('concurrent opens of one key share one open', async () => {
  const { provider, opens } = countingStackit();
  const cache = new SessionCache();
  const sessions = await Promise.all(Array.from({ length: 10 }, () => cache.open(provider, cls(), secret(), 'manage')));
  expect(new Set(sessions).size).toBe(1);
  expect(opens()).toBe(1);
});

test('bounded: the least recently used session goes first', async () => {
  const { provider, opens } = countingStackit();
  const cache = new SessionCache(2);
  const a = await cache.open(provider, cls(), secret('token-aaaaaa'), 'manage');
  await cache.open(provider, cls(), secret('token-bbbbbb'), 'manage');
  expect(await cache.open(provider, cls(), secret('token-aaaaaa'), 'manage')).toBe(a); // a used last
  await cache.open(provider, cls(), secret('token-cccccc'), 'manage'); // evicts b
  expect(cache.size).toBe(2);
  expect(await cache.open(provider, cls(), secret('token-aaaaaa'), 'manage')).toBe(a);
  const opensBefore = opens();
  await cache.open(provider, cls(), secret('token-bbbbbb'), 'manage');
  expect(opens()).toBe(opensBefore + 1);
});

test('defaultProviders: STACKIT sessions are reused through the registry; VPSie sessions are not (they carry a per-call deadline)', async () => {
  const registry = defaultProviders({ stackit: { iaasEndpoint: 'http://127.0.0.1:1' } });
  const stackit = registry.find('stackit')!;
  expect(await stackit.open(cls(), secret(), 'manage')).toBe(await stackit.open(cls(), secret(), 'manage'));
  const vpsie = registry.find('vpsie')!;
  const vpsieClass: MachineClassRef = { name: 'c', namespace: 'ns', provider: 'VPSie', providerSpec: {} };
  const vpsieSecret: SecretData = {};
  // Whatever VPSie answers for an empty class (a refusal), it is asked each time, not answered from a cache.
  const first = await vpsie.open(vpsieClass, vpsieSecret, 'manage').catch((e: unknown) => e);
  const second = await vpsie.open(vpsieClass, vpsieSecret, 'manage').catch((e: unknown) => e);
  expect(second).not.toBe(first);
});

test('a registry given built providers passes their sessions through untouched', async () => {
  const { provider, opens } = countingStackit();
  const registry = new ProviderRegistry([provider]);
  await registry.find('STACKIT')!.open(cls(), secret(), 'manage');
  await registry.find('STACKIT')!.open(cls(), secret(), 'manage');
  expect(opens()).toBe(2);
});

test('a providerSpec too deep to serialise is not kept and still gets the provider’s own answer', async () => {
  const { provider, opens } = countingStackit();
  const cache = new SessionCache();
  const deep = JSON.parse(`{"labels":`.repeat(5_000) + '"x"' + '}'.repeat(5_000)) as object;
  const deepClass: MachineClassRef = { ...cls(), providerSpec: deep };
  const direct = await provider.open(deepClass, secret(), 'create').then(
    () => 'opened',
    (e: Error) => e.constructor.name,
  );
  const cached = await cache.open(provider, deepClass, secret(), 'create').then(
    () => 'opened',
    (e: Error) => e.constructor.name,
  );
  expect(cached).toBe(direct);
  expect(opens()).toBe(2);
  expect(cache.size).toBe(0);
});
