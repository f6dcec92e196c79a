import { MachineCode } from '../../src/driver/codes.js';
import { callError } from '../support/call-error.js';
import { BASE_SPEC, CLASS_NAME, NAMESPACE, PROJECT_ID, USER_DATA, VpsieHarness, type Status } from '../support/vpsie-harness.js';

/**
 * userDataDelivery script (default): MCM's userData becomes a VPSie script
 * made for the Machine and removed with it, also when the Machine never got
 * a VM. userData and none deliver without a script.
 */

let h: VpsieHarness;
beforeAll(async () => {
  h = await VpsieHarness.start();
});
afterAll(async () => {
  await h.close();
});
beforeEach(() => h.fake.reset());

const marker = (machine: string) => `# mcm-grpc-driver: cluster=${NAMESPACE} class=${CLASS_NAME} machine=${machine}`;
const CREATE = { method: 'POST', path: /^\/apps\/v2\/vm$/ };

test('the script is deleted with the VM (DeleteMachine by providerID)', async () => {
  const created = await h.create('alpha-worker-z1-s1');
  expect(h.fake.scripts()).toHaveLength(1);
  await h.client.call('DeleteMachine', h.request('alpha-worker-z1-s1', { providerID: created.providerId }));
  expect(h.fake.vms()).toHaveLength(0);
  expect(h.fake.scripts()).toHaveLength(0);
});

test('the script is deleted by DeleteMachine by hostname when the VM never appeared (once the discovery window has passed)', async () => {
  // VPSie accepts the create but never makes the VM. Inside the discovery window MachineDriver's DeleteMachine
  // waits (the VM could still show up and would leak); after it, the Machine is released with its script.
  const short = await VpsieHarness.start({ timings: { discoveryWindowMs: 1_000 } });
  try {
    short.fake.injectFault({ ...CREATE, status: 200, body: { error: false, message: 'VM creation started' } });
    const err = await callError(short.client.call('CreateMachine', short.request('alpha-worker-z1-s2')));
    expect(err.code).toBe(MachineCode.Unavailable);
    expect(short.fake.scripts()).toHaveLength(1);
    const early = await callError(short.client.call('DeleteMachine', short.request('alpha-worker-z1-s2')));
    expect(early.code).toBe(MachineCode.Unavailable);
    expect(short.fake.scripts()).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 1_100));
    await short.client.call('DeleteMachine', short.request('alpha-worker-z1-s2'));
    expect(short.fake.scripts()).toHaveLength(0);
  } finally {
    await short.close();
  }
});

test('a create VPSie refuses leaves no script behind', async () => {
  h.fake.injectFault({ ...CREATE, status: 200, body: { error: true, message: 'Invalid osIdentifier' } });
  const err = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-s3')));
  expect(err.code).toBe(MachineCode.InvalidArgument);
  expect(err.response?.lastKnownState ?? '').toBe('');
  expect(h.fake.scripts()).toHaveLength(0);
});

test('the script stays while a twin VM of the Machine lives (orphan stub deleting a duplicate)', async () => {
  const live = await h.create('alpha-worker-z1-s4');
  const duplicate = h.fake.seedVm({ hostname: 'alpha-worker-z1-s4', projectId: PROJECT_ID, notes: marker('alpha-worker-z1-s4').slice(2) });
  const stub = Buffer.from(JSON.stringify({ metadata: { name: 'alpha-worker-z1-s4', namespace: NAMESPACE }, spec: { providerID: `vpsie://${duplicate.identifier}` } }));
  await h.client.call('DeleteMachine', { machine: stub, machineClass: h.machineClass(), secretData: h.secretData() });
  expect(h.fake.vms().map((v) => `vpsie://${v.identifier}`)).toEqual([live.providerId]);
  expect(h.fake.scripts()).toHaveLength(1);
});

test('a leftover script of an earlier attempt with other content is replaced; an identical one is reused', async () => {
  const name = 'alpha-worker-z1-s5';
  const stale = h.fake.seedScript({ name, script: `#cloud-config\n# old bootstrap token\n${marker(name)}\n` });
  const identical = h.fake.seedScript({ name: 'alpha-worker-z1-s6', script: `${USER_DATA.trimEnd()}\n${marker('alpha-worker-z1-s6')}\n` });
  await h.create(name);
  await h.create('alpha-worker-z1-s6');
  const scripts = h.fake.scripts();
  expect(scripts.map((s) => s.identifier)).not.toContain(stale.identifier);
  expect(scripts.map((s) => s.identifier)).toContain(identical.identifier);
  expect(scripts).toHaveLength(2);
  const bodies = h.createRequests().map((r) => r.body as { hostname: string; scriptIdentifier: string });
  expect(bodies.find((b) => b.hostname === 'alpha-worker-z1-s6')!.scriptIdentifier).toBe(identical.identifier);
});

test('a foreign script with the Machine’s name but without our marker is never used or deleted', async () => {
  const name = 'alpha-worker-z1-s7';
  const foreign = h.fake.seedScript({ name, script: '#!/bin/bash\necho someone else\n' });
  const created = await h.create(name);
  const body = h.createRequests()[0]!.body as { scriptIdentifier: string };
  expect(body.scriptIdentifier).not.toBe(foreign.identifier);
  await h.client.call('DeleteMachine', h.request(name, { providerID: created.providerId }));
  expect(h.fake.scripts().map((s) => s.identifier)).toEqual([foreign.identifier]);
});

test('userDataDelivery userData: base64 in the create request, no script', async () => {
  await h.create('alpha-worker-z1-s8', { spec: { ...BASE_SPEC, userDataDelivery: 'userData' } });
  const body = h.createRequests()[0]!.body as Record<string, unknown>;
  expect(body.userData).toBe(Buffer.from(USER_DATA).toString('base64'));
  expect(body).not.toHaveProperty('scriptIdentifier');
  expect(h.fake.scripts()).toHaveLength(0);
});

test('userDataDelivery none with the class’s own scriptIdentifier: that script, no userData, no per-Machine script', async () => {
  const own = h.fake.seedScript({ name: 'ops-bootstrap', script: '#!/bin/bash\necho ops\n' });
  await h.create('alpha-worker-z1-s9', { spec: { ...BASE_SPEC, userDataDelivery: 'none', scriptIdentifier: own.identifier } });
  const body = h.createRequests()[0]!.body as Record<string, unknown>;
  expect(body.scriptIdentifier).toBe(own.identifier);
  expect(body).not.toHaveProperty('userData');
  expect(h.fake.scripts()).toHaveLength(1);
});
