import { MachineCode } from '../../src/driver/codes.js';
import { callError } from '../support/call-error.js';
import { CLASS_NAME, NAMESPACE, PROJECT_ID, USER_DATA, VpsieHarness, type Status } from '../support/vpsie-harness.js';

/**
 * The MCM call order against the VPSie fake behind Prism, with VPSie's
 * asynchronous create: the VM appears in the pending view, then in the list.
 */

let h: VpsieHarness;
beforeAll(async () => {
  h = await VpsieHarness.start();
});
afterAll(async () => {
  await h.close();
});
beforeEach(() => h.fake.reset());

const markers = (name: string, cls = CLASS_NAME, ns = NAMESPACE) => `mcm-grpc-driver: cluster=${ns} class=${cls} machine=${name}`;

describe('MCM call order', () => {
  test('GetMachineStatus NotFound → Create → Initialize → Status → List → Delete → Status NotFound', async () => {
    const name = 'alpha-worker-z1-aaaa1';
    const notFound = await callError(h.client.call('GetMachineStatus', h.request(name)));
    expect(notFound.code).toBe(MachineCode.NotFound);

    const created = await h.client.call<Status>('CreateMachine', h.request(name));
    const [vm] = h.liveVms();
    expect(h.liveVms()).toHaveLength(1);
    expect(created.providerId).toBe(`vpsie://${vm!.identifier}`);
    expect(created.nodeName).toBe(name);
    expect(vm!.phase).toBe('running');
    expect(created.addresses).toEqual([
      { type: 'InternalIP', address: vm!.private_ip },
      { type: 'ExternalIP', address: vm!.default_ip },
    ]);
    expect(h.createRequests()).toHaveLength(1);

    const init = await h.client.call<Status>('InitializeMachine', h.request(name, { providerID: created.providerId }));
    expect(init.providerId).toBe(created.providerId);
    const status = await h.client.call<Status>('GetMachineStatus', h.request(name, { providerID: created.providerId }));
    expect(status).toMatchObject({ providerId: created.providerId, nodeName: name });
    const byName = await h.client.call<Status>('GetMachineStatus', h.request(name));
    expect(byName.providerId).toBe(created.providerId);

    const list = await h.client.call<{ machineList: Record<string, string> }>('ListMachines', h.listRequest());
    expect(list.machineList).toEqual({ [created.providerId]: name });

    const deleted = await h.client.call<{ lastKnownState: string }>('DeleteMachine', h.request(name, { providerID: created.providerId }));
    expect(deleted.lastKnownState).toBe('');
    expect(h.fake.vms()).toHaveLength(0);
    const del = h.fake.requests.find((r) => r.method === 'DELETE' && r.path === '/apps/v2/vm');
    expect(del?.body).toEqual({
      vmIdentifier: vm!.identifier,
      password: 'fake-account-password',
      deleteStatistic: { reason: 'no longer needed', note: expect.any(String) },
    });

    const gone = await callError(h.client.call('GetMachineStatus', h.request(name, { providerID: created.providerId })));
    expect(gone.code).toBe(MachineCode.NotFound);
  });

  test('the create request: hostname = Machine name, markers in notes and tags, flags left out when unset, auth header, boot script', async () => {
    const name = 'alpha-worker-z1-mark1';
    await h.client.call('CreateMachine', h.request(name));
    const post = h.createRequests()[0]!;
    expect(post.headers['vpsie-auth']).toBe('<redacted>');
    expect(post.body).toEqual({
      resourceIdentifier: 'plan-4c-8g',
      osIdentifier: 'ubuntu-24-04',
      dcIdentifier: 'dc-ny-1',
      hostname: name,
      projectId: PROJECT_ID,
      notes: `${markers(name)};`,
      tags: [`mcm-cluster:${NAMESPACE}`, `mcm-class:${CLASS_NAME}`, `mcm-machine:${name}`],
      scriptIdentifier: expect.any(String),
    });
    const [script] = h.fake.scripts();
    expect(script!.identifier).toBe((post.body as { scriptIdentifier: string }).scriptIdentifier);
    expect(script!.script_name).toBe(`${name}.sh`);
    expect(script!.script).toBe(`${USER_DATA.trimEnd()}\n# ${markers(name)}\n`);
    expect(h.liveVms()[0]!.scriptIdentifier).toBe(script!.identifier);
  });
});
