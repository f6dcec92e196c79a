import { startKit, type CloudKit } from '../support/cloud-kits.js';

/**
 * STACKIT's label_selector narrows listings on the server, but the driver does not trust it alone
 * (stackit-provider.ts re-checks every label). With a fake that ignores the selector, VMs of other
 * clusters and classes and hand-made look-alikes come back in every listing: the driver must
 * neither list, adopt nor delete any of them.
 */
let kit: CloudKit;
beforeAll(async () => {
  kit = await startKit('stackit', { fake: { ignoreLabelSelector: true } });
});
afterAll(() => kit?.close());

test('a listing that ignores the selector: look-alikes are not listed, adopted or deleted', async () => {
  const machine = 'alpha-worker-z1-recheck';
  const lookAlikes = kit.seedLookAlikes(machine);
  // The fake really ignores the selector: a listing request returns the look-alikes too.
  const listed = (await kit.call<{ machineList: Record<string, string> }>('ListMachines', kit.listRequest())).machineList;
  for (const l of lookAlikes) expect({ what: l.what, listed: Object.keys(listed).some((id) => id.includes(l.id)) }).toEqual({ what: l.what, listed: false });

  const created = await kit.call<{ providerId: string }>('CreateMachine', kit.request(machine));
  expect(lookAlikes.map((l) => l.id)).not.toContainEqual(expect.stringMatching(created.providerId.split('/').pop()!));
  expect(kit.vmsOf(machine)).toHaveLength(1);
  await kit.call('DeleteMachine', kit.request(machine));
  for (const l of lookAlikes) expect({ what: l.what, alive: kit.vmIds().includes(l.id) }).toEqual({ what: l.what, alive: true });
  const requests = kit.requests().filter((r) => r.method === 'GET' && /\/servers$/.test(r.path));
  expect(requests.length).toBeGreaterThan(0);
});

test('ListMachines lists without details (no userData, no NICs: the v2 spec shows them only with details); the lookup by Machine keeps them', async () => {
  kit.reset();
  const machine = 'alpha-worker-z1-details';
  await kit.call('CreateMachine', kit.request(machine));
  const before = kit.requests().length;
  const listed = (await kit.call<{ machineList: Record<string, string> }>('ListMachines', kit.listRequest())).machineList;
  expect(Object.values(listed)).toContain(machine);
  const lists = kit.requests().slice(before).filter((r) => r.method === 'GET' && /\/servers$/.test(r.path));
  expect(lists.map((r) => r.query.details)).toEqual(['false']);
  // CreateMachine of a Machine whose VM exists finds it by its markers, with its addresses (details=true).
  const adoptFrom = kit.requests().length;
  await kit.call('CreateMachine', kit.request(machine));
  const lookups = kit.requests().slice(adoptFrom).filter((r) => r.method === 'GET' && /\/servers$/.test(r.path));
  expect(lookups.length).toBeGreaterThan(0);
  expect(lookups.every((r) => r.query.details === 'true')).toBe(true);
  await kit.call('DeleteMachine', kit.request(machine));
});
