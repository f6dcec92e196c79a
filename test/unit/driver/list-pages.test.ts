import { MachineDriver } from '../../../src/driver/machine-driver.js';
import type { CloudProvider, CloudSession, ListedVm } from '../../../src/driver/provider.js';
import { ProviderRegistry } from '../../../src/driver/provider-registry.js';

/**
 * ListMachines reads a listing page by page (provider.ts list): each page is
 * written into the answer before the next is asked for, and a VM that comes
 * again in a later page (a listing read again) counts by its later entry.
 */
function pagedProvider(pages: ListedVm[][], log: string[]): CloudProvider {
  const session = {
    async *list() {
      for (const [i, page] of pages.entries()) {
        log.push(`page ${i} read`);
        yield page;
      }
    },
  } as unknown as CloudSession;
  return { name: 'Paged', open: async () => session, volumeId: () => undefined };
}

const call = { machineClass: Buffer.from(JSON.stringify({ metadata: { name: 'c', namespace: 'n' }, provider: 'Paged', providerSpec: {} })), secretData: {} };
const vm = (id: string, machineName: string | undefined, state: ListedVm['state'] = 'running'): ListedVm => ({ providerId: `paged://${id}`, machineName, state });

test('every page counts; deleting VMs and VMs without a Machine are left out; a later entry of a VM wins', async () => {
  const log: string[] = [];
  const driver = new MachineDriver(
    new ProviderRegistry([
      pagedProvider(
        [
          [vm('1', 'm-1'), vm('2', 'm-2', 'deleting'), vm('3', undefined), vm('4', 'm-4')],
          [vm('5', 'm-5', 'stopped'), vm('4', 'm-4', 'deleting'), vm('2', 'm-2', 'running')],
          [],
          [vm('6', 'm-6', 'creating')],
        ],
        log,
      ),
    ]),
  );
  expect(await driver.listMachines(call, new AbortController().signal)).toEqual({ 'paged://1': 'm-1', 'paged://2': 'm-2', 'paged://5': 'm-5', 'paged://6': 'm-6' });
  expect(log).toEqual(['page 0 read', 'page 1 read', 'page 2 read', 'page 3 read']);
});

test('a page that fails fails the whole listing: no partial answer MCM could read as "the rest is gone"', async () => {
  const session = {
    async *list() {
      yield [vm('1', 'm-1')];
      throw new Error('page 2 failed');
    },
  } as unknown as CloudSession;
  const driver = new MachineDriver(new ProviderRegistry([{ name: 'Paged', open: async () => session, volumeId: () => undefined }]));
  await expect(driver.listMachines(call, new AbortController().signal)).rejects.toThrow();
});
