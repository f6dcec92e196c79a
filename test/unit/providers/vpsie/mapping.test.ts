import { addresses, createVmRequest, isGone, toVmRecord, vmState } from '../../../../src/providers/vpsie/mapping.js';
import type { VmData } from '../../../../src/providers/vpsie/types.js';

const cls = { name: 'cls', namespace: 'shoot--a--b', provider: 'VPSie', providerSpec: {} };
const base = { projectId: 7, dcIdentifier: 'dc', resourceIdentifier: 'plan', osIdentifier: 'os' };
const vm = (over: Partial<VmData> = {}): VmData => ({ identifier: 'id-1', hostname: 'm-1', ...over });

test('state from power and the is_* flags; gone = deleted or terminated', () => {
  expect(vmState(vm({ power: 1, is_active: 1 }))).toBe('running');
  expect(vmState(vm({ power: 0, is_active: 1 }))).toBe('stopped');
  expect(vmState(vm({ power: 0, is_active: 0 }))).toBe('creating');
  expect(vmState(vm({}))).toBe('creating');
  expect(vmState(vm({ power: 1, is_active: 1, is_suspended: 1 }))).toBe('failed');
  expect(isGone(vm({ is_deleted: 1 }))).toBe(true);
  expect(isGone(vm({ is_terminated: 1 }))).toBe(true);
  expect(isGone(vm({ is_locked: 1 }))).toBe(false);
});

test('a record names its Machine only when the markers are complete and name the VM’s own hostname', () => {
  const notes = (machine: string) => `mcm-grpc-driver: cluster=shoot--a--b class=cls machine=${machine}`;
  expect(toVmRecord(vm({ notes: notes('m-1') })).machineName).toBe('m-1');
  expect(toVmRecord(vm({ notes: notes('m-2') })).machineName).toBeUndefined();
  expect(toVmRecord(vm({ notes: null })).machineName).toBeUndefined();
  expect(toVmRecord(vm({ is_suspended: 1 })).failureMessage).toContain('suspended');
  expect(toVmRecord(vm()).providerId).toBe('vpsie://id-1');
});

test('addresses: private_ip internal; default_ip, publicIp, default_ipv6 external; no duplicates or empties', () => {
  expect(addresses(vm({ private_ip: '10.0.0.1', default_ip: '203.0.113.1', publicIp: '203.0.113.1', default_ipv6: '2001:db8::1' }))).toEqual([
    { type: 'InternalIP', address: '10.0.0.1' },
    { type: 'ExternalIP', address: '203.0.113.1' },
    { type: 'ExternalIP', address: '2001:db8::1' },
  ]);
  expect(addresses(vm({ private_ip: '', default_ip: null }))).toEqual([]);
});

test('the create request: flags as "1"/"0" (the /api/v2 encoding), unset flags left out, notes marker first, user tags before ours', () => {
  const req = createVmRequest({ ...base, addPublicIpV4: true, addPrivateIp: false, tags: ['t'], notes: 'n' }, 'm-1', cls, {});
  expect(req).toEqual({
    resourceIdentifier: 'plan',
    osIdentifier: 'os',
    dcIdentifier: 'dc',
    hostname: 'm-1',
    projectId: 7,
    notes: 'mcm-grpc-driver: cluster=shoot--a--b class=cls machine=m-1;\nn',
    tags: ['t', 'mcm-cluster:shoot--a--b', 'mcm-class:cls', 'mcm-machine:m-1'],
    addPublicIpV4: '1',
    addPrivateIp: '0',
  });
});

test('boot data: the per-Machine script wins over the class’s scriptIdentifier; userData is base64; empty userData is not sent', () => {
  expect(createVmRequest({ ...base, scriptIdentifier: 'own' }, 'm-1', cls, { scriptIdentifier: 'per-machine' }).scriptIdentifier).toBe('per-machine');
  expect(createVmRequest({ ...base, scriptIdentifier: 'own' }, 'm-1', cls, {}).scriptIdentifier).toBe('own');
  expect(createVmRequest(base, 'm-1', cls, { userData: Buffer.from('#cloud-config') }).userData).toBe(Buffer.from('#cloud-config').toString('base64'));
  expect(createVmRequest(base, 'm-1', cls, { userData: Buffer.alloc(0) })).not.toHaveProperty('userData');
});

// VP-TF server_resource.go and VP-CAPI send numbers to /apps/v2/vm; govpsie 4022865 strings to /api/v2/vm.
test('the create request on the /apps/v2 VM path: flags as numbers 1/0', () => {
  const req = createVmRequest({ ...base, addPublicIpV4: true, addPrivateIp: false, backupEnabled: true }, 'm-1', cls, {}, 'number');
  expect(req).toMatchObject({ addPublicIpV4: 1, addPrivateIp: 0, backupEnabled: 1 });
  expect(req).not.toHaveProperty('addPublicIpV6');
});
