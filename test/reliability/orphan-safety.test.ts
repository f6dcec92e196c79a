import { CLOUDS, McmFlow, outcome, startKit, type CloudKit } from '../support/cloud-kits.js';

/**
 * Orphan safety on every cloud: VMs of another cluster, another class, hand-made look-alikes and
 * VMs with only some markers are never listed (so MCM's orphan sweep never sees them), never
 * adopted, and DeleteMachine, with the orphan stub MCM sends (name, namespace, providerID), never
 * touches them: no delete request names them, and they all still exist afterwards.
 */

describe.each(CLOUDS)('%s', (cloud) => {
  let kit: CloudKit;
  beforeAll(async () => {
    kit = await startKit(cloud);
  });
  afterAll(async () => {
    await kit?.close();
  });

  test('foreign and look-alike VMs are never listed, adopted or deleted', async () => {
    kit.reset();
    const machine = 'alpha-worker-z1-own';
    const own = await McmFlow.of(kit, machine).untilRunning();
    const foreign = kit.seedLookAlikes(machine);
    const foreignIds = foreign.map((f) => f.id);

    // ListMachines: ours only.
    const list = await kit.call<{ machineList: Record<string, string> }>('ListMachines', kit.listRequest());
    expect(list.machineList).toEqual({ [own.providerId]: machine });

    // GetMachineStatus without providerID and CreateMachine find ours only (no OutOfRange from the look-alikes).
    expect((await kit.call<{ providerId: string }>('GetMachineStatus', kit.request(machine))).providerId).toBe(own.providerId);
    expect((await kit.call<{ providerId: string }>('CreateMachine', kit.request(machine))).providerId).toBe(own.providerId);

    // The orphan stub for every name a look-alike carries, with an empty providerID: nothing of theirs is touched.
    // (Not `${machine}-b`: a VM of this cluster for that Machine, of another class, *is* that Machine's VM, since a
    // Machine may change class; DeleteMachine of Machine `${machine}-b` deletes it by design, and only the sweep of
    // class beta-worker, which lists it, would send that stub.)
    const names = new Set([`${machine}-a`, `${machine}-c`, `${machine}-d`, `${machine}-e`, `${machine}-f`, `${machine}x`]);
    for (const name of names) {
      const r = await outcome(kit.call('DeleteMachine', kit.request(name)));
      expect({ name, code: r.code }).toEqual({ name, code: 0 });
    }
    // And the stub for our own VM deletes exactly it.
    await kit.call('DeleteMachine', kit.request(machine, { providerID: own.providerId }));
    expect(kit.vmsOf(machine)).toEqual([]);

    const deletes = kit.requests().filter((r) => r.method === 'DELETE' || (r.method === 'POST' && /action/.test(r.path) && r.query.do === 'stop'));
    const touched = foreignIds.filter((id) => deletes.some((r) => r.path.includes(id) || JSON.stringify(r.body ?? '').includes(id)));
    expect(touched.map((id) => foreign.find((f) => f.id === id)?.what)).toEqual([]);
    const alive = new Set(kit.vmIds());
    expect(foreign.filter((f) => !alive.has(f.id))).toEqual([]);
    process.stdout.write(`orphans ${cloud}: ${JSON.stringify({ foreignSeeded: foreign.length, foreignListed: 0, foreignTouched: touched.length })}\n`);
  });
});
