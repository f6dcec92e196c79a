// Issue 11 item 6: deletion is never blocked by the class. DeleteMachine, GetMachineStatus and
// ListMachines open the class for 'manage' (src/driver/provider.ts, SessionPurpose): a class
// that no longer validates for create (a renamed machine type, a field a later version refuses)
// still reports and deletes its VMs; a Secret without credentials is still InvalidArgument.
import { MachineCode } from '../../src/driver/codes.js';
import { callError } from '../support/call-error.js';
import { BASE_SPEC as CS_SPEC, CloudSigmaHarness } from '../support/cloudsigma-harness.js';
import { BASE_SPEC as ST_SPEC, StackitHarness } from '../support/stackit-harness.js';
import { BASE_SPEC as VP_SPEC, VpsieHarness } from '../support/vpsie-harness.js';

interface Harness {
  client: { call<T = Record<string, unknown>>(m: string, req: object): Promise<T> };
  request(name: string, opts?: { providerID?: string; spec?: object; secret?: Record<string, Buffer> }): object;
  listRequest(opts?: { spec?: object; secret?: Record<string, Buffer> }): object;
  close(): Promise<void>;
}

interface Cloud {
  name: string;
  start(): Promise<Harness>;
  spec: object;
  /** The same class after an upgrade refuses one of its create fields, and with a field this version does not know. */
  stale: object;
  /** A Secret of that cloud without its credentials. */
  noCredentials(h: Harness): Record<string, Buffer>;
}

const CLOUDS: Cloud[] = [
  {
    name: 'STACKIT',
    start: () => StackitHarness.start() as Promise<unknown> as Promise<Harness>,
    spec: ST_SPEC,
    stale: { ...ST_SPEC, machineType: 'renamed type!', bootVolume: { size: 'big' }, addedInV3: true },
    noCredentials: (h) => (h as unknown as StackitHarness).secretData({ token: undefined }),
  },
  {
    name: 'CloudSigma',
    start: () => CloudSigmaHarness.start() as Promise<unknown> as Promise<Harness>,
    spec: CS_SPEC,
    stale: { ...CS_SPEC, cpu: 'lots', addedInV3: true },
    noCredentials: (h) => (h as unknown as CloudSigmaHarness).secretData('basic', { username: undefined, password: undefined }),
  },
  {
    name: 'VPSie',
    start: () => VpsieHarness.start() as Promise<unknown> as Promise<Harness>,
    spec: VP_SPEC,
    stale: { ...VP_SPEC, resourceIdentifier: 42, addedInV3: true },
    noCredentials: (h) => (h as unknown as VpsieHarness).secretData({ 'api-token': undefined }),
  },
];

describe.each(CLOUDS)('$name', (cloud) => {
  let h: Harness;
  beforeAll(async () => {
    h = await cloud.start();
  });
  afterAll(async () => {
    await h.close();
  });

  test('a class that no longer validates for create still reports, lists and deletes its VM by providerID', async () => {
    const name = 'alpha-worker-z1-stale';
    const { providerId } = await createAsMcm(() => h.client.call<{ providerId: string }>('CreateMachine', h.request(name, { spec: cloud.spec })));

    // Creating with it is refused, naming the bad fields...
    const refused = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-new', { spec: cloud.stale })));
    expect(refused.code).toBe(MachineCode.InvalidArgument);
    expect(refused.details).toContain('addedInV3');

    // ...but what exists is still reported, listed and deleted.
    const status = await h.client.call<{ providerId: string }>('GetMachineStatus', h.request(name, { providerID: providerId, spec: cloud.stale }));
    expect(status.providerId).toBe(providerId);
    const list = await h.client.call<{ machineList: Record<string, string> }>('ListMachines', h.listRequest({ spec: cloud.stale }));
    expect(list.machineList[providerId]).toBe(name);
    await h.client.call('DeleteMachine', h.request(name, { providerID: providerId, spec: cloud.stale }));
    const gone = await callError(h.client.call('GetMachineStatus', h.request(name, { providerID: providerId, spec: cloud.stale })));
    expect(gone.code).toBe(MachineCode.NotFound);
  });

  test('what delete really needs is still checked: a Secret without credentials is InvalidArgument', async () => {
    const err = await callError(h.client.call('DeleteMachine', h.request('alpha-worker-z1-nocred', { spec: cloud.stale, secret: cloud.noCredentials(h) })));
    expect(err.code).toBe(MachineCode.InvalidArgument);
    expect(err.details).toContain('secret');
  });
});

/** CreateMachine again after Unavailable, as MCM does in 5 s (VPSie's create answers no id: a later call finds the VM). */
async function createAsMcm<T>(call: () => Promise<T>, attempts = 60): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await call();
    } catch (err) {
      if ((err as { code?: number }).code !== MachineCode.Unavailable || i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
