import { MachineCode } from '../../../../src/driver/codes.js';
import { formatLeftovers, parseLeftovers } from '../../../../src/providers/cloudsigma/leftovers.js';
import { apiErrorMessage, attachedDrives, createServerBody, isCapacityProblem, toBytes, toVmRecord, vmState } from '../../../../src/providers/cloudsigma/mapping.js';
import { bootDriveName } from '../../../../src/providers/cloudsigma/markers.js';
import { formatProviderId, parseProviderId } from '../../../../src/providers/cloudsigma/provider-id.js';
import type { CloudSigmaProviderSpec } from '../../../../src/providers/cloudsigma/types.js';

const S = '4e31777b-92b5-4633-9f31-c28443a63cfd';
const D = '39e4c24b-980a-49ce-968c-1f32b124b23f';
const cls = { name: 'cls', namespace: 'shoot--a--b', provider: 'CloudSigma', providerSpec: {} };
const machine = { name: 'm-1', namespace: 'shoot--a--b', providerId: '', lastKnownState: '' };
const spec: CloudSigmaProviderSpec = { cpu: 2000, memory: '1Gi', bootDrive: { source: { libraryDrive: D } }, nics: [{ ipv4: { conf: 'dhcp' } }] };

test('providerIDs are cloudsigma://<uuid> and parse back byte-identically; anything else is InvalidArgument', () => {
  const id = formatProviderId(S);
  expect(id).toBe(`cloudsigma://${S}`);
  expect(parseProviderId(id)).toBe(S);
  for (const bad of [`cloudsigma://${S}/`, `cloudsigma:///${S}`, `cloudsigma://zrh/${S}`, `stackit://${S}`, 'cloudsigma://not-a-uuid', '']) {
    let code: number | undefined;
    try {
      parseProviderId(bad);
    } catch (err) {
      code = (err as { code: number }).code;
    }
    expect(code).toBe(MachineCode.InvalidArgument);
  }
});

test('byte sizes: integers are bytes, Ki/Mi/Gi/Ti are binary', () => {
  expect(toBytes(134217728)).toBe(134217728);
  expect(toBytes('512Mi')).toBe(512 * 1024 ** 2);
  expect(toBytes('4Gi')).toBe(4 * 1024 ** 3);
  expect(toBytes('1Ti')).toBe(1024 ** 4);
  expect(() => toBytes('4GB')).toThrow();
});

test('the markers, boot drive and cloud-init keys win over user meta; user data is base64 with base64_fields', () => {
  const at = new Date('2026-01-02T03:04:05.678Z');
  const body = createServerBody({ ...spec, meta: { 'kubernetes.io/machine': 'evil', team: 'x' } }, machine, cls, D, 'vnc-pass-1234', Buffer.from('#cloud-config'), at);
  expect(body.meta).toEqual({
    team: 'x',
    'kubernetes.io/machine': 'm-1',
    'kubernetes.io/machineclass': 'cls',
    'mcm-grpc-driver.io/cluster': 'shoot--a--b',
    'mcm-grpc-driver.io/boot-drive': D,
    'mcm-grpc-driver.io/created-at': '2026-01-02T03:04:05.678Z',
    'cloudinit-user-data': Buffer.from('#cloud-config').toString('base64'),
    base64_fields: 'cloudinit-user-data',
  });
  expect(body).toMatchObject({ name: 'm-1', cpu: 2000, mem: 1024 ** 3, vnc_password: 'vnc-pass-1234', context: true });
  expect(body.drives).toEqual([{ drive: D, device: 'virtio', dev_channel: '0:0', boot_order: 1 }]);
  // Every meta key fits the API's 32-character limit.
  for (const k of Object.keys(body.meta)) expect(k.length).toBeLessThanOrEqual(32);
  expect(createServerBody(spec, machine, cls, D, 'v', undefined).meta).not.toHaveProperty('cloudinit-user-data');
});

test('server status → VM state: stopped is stopped (the API does not boot a server), paused is dead, the rest is in between', () => {
  expect(vmState('running')).toBe('running');
  expect(vmState('starting')).toBe('creating');
  expect(vmState('stopped')).toBe('stopped');
  expect(vmState('paused')).toBe('failed');
  for (const s of ['stopping', 'unavailable', 'something-new', undefined]) expect(vmState(s)).toBe('unknown');
});

test('a VmRecord names its Machine only by a non-empty marker; runtime NIC IPs become addresses', () => {
  const vm = toVmRecord({
    uuid: S,
    status: 'running',
    meta: { 'kubernetes.io/machine': 'm-1' },
    runtime: { nics: [{ interface_type: 'public', ip_v4: { uuid: '94.26.101.149' }, ip_v6: null }, { interface_type: 'private', ip_v4: { uuid: '10.0.0.4' } }] },
  });
  expect(vm).toMatchObject({ providerId: `cloudsigma://${S}`, machineName: 'm-1', state: 'running' });
  expect(vm.addresses).toEqual([
    { type: 'ExternalIP', address: '94.26.101.149' },
    { type: 'InternalIP', address: '10.0.0.4' },
  ]);
  expect(toVmRecord({ uuid: S, meta: { 'kubernetes.io/machine': '' } }).machineName).toBeUndefined();
  expect(toVmRecord({ uuid: S, meta: null }).machineName).toBeUndefined();
  // CloudSigma gives no creation time: the driver's created-at marker is read back, anything unreadable is left out.
  expect(toVmRecord({ uuid: S, meta: { 'mcm-grpc-driver.io/created-at': '2026-01-02T03:04:05.678Z' } }).createdAt).toBe('2026-01-02T03:04:05.678Z');
  expect(toVmRecord({ uuid: S, meta: { 'mcm-grpc-driver.io/created-at': 'yesterday' } })).not.toHaveProperty('createdAt');
  expect(toVmRecord({ uuid: S, meta: {} })).not.toHaveProperty('createdAt');
  expect(toVmRecord({ uuid: S, status: 'paused' }).failureMessage).toContain('paused');
});

test('attached drives are read from objects (answers) and strings (requests)', () => {
  expect(attachedDrives({ uuid: S, drives: [{ drive: { uuid: D } }, { drive: 'abc' }, { drive: null }] })).toEqual([D, 'abc']);
});

test('error bodies: the documented array and the single object kube-dc saw', () => {
  expect(apiErrorMessage([{ error_type: 'validation', error_message: 'This field is required', error_point: 'name' }])).toBe('validation: This field is required (at name)');
  expect(apiErrorMessage({ error_type: 'permission', error_message: 'User x does not have [LIST]' })).toBe('permission: User x does not have [LIST]');
  expect(apiErrorMessage([{ error_type: 'a', error_message: 'one', error_point: null }, { error_message: 'two' }])).toBe('a: one; two');
  expect(apiErrorMessage({ unexpected: true })).toBeUndefined();
  expect(apiErrorMessage('text')).toBeUndefined();
});

test('funds, billing and capacity answers count as quota (ResourceExhausted)', () => {
  expect(isCapacityProblem(402, undefined)).toBe(true);
  expect(isCapacityProblem(400, 'billing: Not enough funds')).toBe(true);
  expect(isCapacityProblem(400, 'validation: x; payment: card declined')).toBe(true);
  expect(isCapacityProblem(400, 'validation: We currently cannot provide enough resources to create a nvme drive')).toBe(true);
  expect(isCapacityProblem(400, 'validation: This field is required')).toBe(false);
  expect(isCapacityProblem(403, 'permission: User x does not have all of the permissions')).toBe(false);
});

test('a 503 is capacity unless it is a concurrency error (cloudsigma-docs general.rst, errors.rst)', () => {
  expect(isCapacityProblem(503, 'backend: We currently cannot provide enough resources to create the server')).toBe(true);
  expect(isCapacityProblem(503, 'database: Something else')).toBe(true);
  expect(isCapacityProblem(503, 'concurrency: Concurrent update')).toBe(false);
  expect(isCapacityProblem(503, 'concurrency: We currently cannot provide enough resources')).toBe(true);
  // No CloudSigma error list (a proxy in front of the API): not capacity.
  expect(isCapacityProblem(503, undefined)).toBe(false);
  expect(isCapacityProblem(500, 'backend: internal error')).toBe(false);
});

test('lastKnownState leftovers round-trip; garbage and foreign states read as nothing left', () => {
  const text = formatLeftovers({ location: 'zrh', step: 'create server', leftDrives: [D] });
  expect(JSON.parse(text)).toEqual({ cloudsigma: { location: 'zrh', step: 'create server', leftDrives: [D] } });
  expect(parseLeftovers(text)).toEqual({ leftDrives: [D] });
  for (const other of ['', 'not json', 'null', '{"providerId":"cloudsigma://x","state":"creating"}', '{"cloudsigma":{"leftDrives":["../../etc",5]}}']) {
    expect(parseLeftovers(other)).toEqual({ leftDrives: [] });
  }
});

test('the boot drive name carries cluster and Machine', () => {
  expect(bootDriveName('shoot--a--b', 'm-1')).toBe('mcm:shoot--a--b:m-1:boot');
});
