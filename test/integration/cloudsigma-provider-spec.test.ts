// Every providerSpec field: valid values reach the clone and create request bodies (as Prism,
// checking them against specs/cloudsigma.yaml, lets them through); invalid ones are refused with
// InvalidArgument naming the field, all at once, before anything is sent.
import { MachineCode } from '../../src/driver/codes.js';
import { ALICE, BASE_SPEC, CloudSigmaHarness, LIBRARY_DRIVE, USER_DATA, callError, type Status } from '../support/cloudsigma-harness.js';

const UUID1 = '11111111-2222-4333-8444-555555555555';
const UUID2 = '66666666-7777-4888-9999-aaaaaaaaaaaa';
const UUID3 = '0b5f7e4c-1b7a-4c1e-9b65-2d0c9c1e7a11';
const SSH_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHh0ZXN0a2V5Zm9ydGhlbWNtZ3JwY2RyaXZlcg ops@example.org';

/** Every providerSpec field, each with a value the API accepts. */
const FULL_SPEC = {
  location: 'zrh',
  cpu: 4000,
  smp: 2,
  memory: '4Gi',
  cpuType: 'intel',
  cpuModel: 'kvm64',
  hypervisor: 'kvm',
  cpusInsteadOfCores: true,
  enableNuma: true,
  hvRelaxed: false,
  hvTsc: false,
  vncPassword: { policy: 'random', length: 24 },
  bootDrive: { source: { libraryDrive: LIBRARY_DRIVE }, size: '20Gi', storageType: 'ssd', device: 'scsi', devChannel: '0:1' },
  nics: [
    { model: 'e1000', ipv4: { conf: 'dhcp' }, ipv6: { conf: 'manual' }, bootOrder: 2 },
    { vlan: UUID2, model: 'virtio' },
    { ipv4: { conf: 'static', ip: '185.12.5.7' } },
  ],
  pubkeys: [UUID3],
  sshPublicKey: SSH_KEY,
  tags: [UUID1, UUID2],
  meta: { team: 'platform', 'gardener.cloud/pool': 'z1' },
};

/** [field, invalid value, the path (or text) the error must name] */
const INVALID: Array<[string, unknown, string]> = [
  ['location', 'ZRH', 'providerSpec.location'],
  ['cpu', 2, 'providerSpec.cpu: must be the CPU clock in MHz'],
  ['cpu', '2000', 'providerSpec.cpu'],
  ['smp', 0, 'providerSpec.smp'],
  // CloudSigma's Terraform provider (validateSMP): "the minimum amount of cpu per smp is 1000".
  ['smp', 3, 'providerSpec.cpu: 2000 MHz for 3 cores is less than the 1000 MHz per core'],
  ['memory', 4096, 'providerSpec.memory: must be bytes'],
  ['memory', '4GB', 'providerSpec.memory'],
  ['cpuType', 'arm', 'providerSpec.cpuType'],
  ['cpuModel', 'host', 'providerSpec.cpuModel'],
  ['hypervisor', 'xen', 'providerSpec.hypervisor'],
  ['cpusInsteadOfCores', 'yes', 'providerSpec.cpusInsteadOfCores'],
  ['enableNuma', 1, 'providerSpec.enableNuma'],
  ['hvRelaxed', 'true', 'providerSpec.hvRelaxed'],
  ['hvTsc', null, 'providerSpec.hvTsc'],
  ['vncPassword', { policy: 'fixed' }, 'providerSpec.vncPassword.policy'],
  ['vncPassword', { policy: 'random', length: 4 }, 'providerSpec.vncPassword.length'],
  ['vncPassword', { policy: 'secret', length: 12 }, 'providerSpec.vncPassword: length is only used with policy random'],
  ['bootDrive', { source: { libraryDrive: UUID1, drive: UUID2 } }, 'providerSpec.bootDrive.source: give exactly one of libraryDrive or drive'],
  ['bootDrive', { source: { image: UUID1 } }, 'providerSpec.bootDrive.source'],
  ['bootDrive', { source: { libraryDrive: 'ubuntu' } }, 'providerSpec.bootDrive.source.libraryDrive'],
  ['bootDrive', { source: { libraryDrive: UUID1 }, size: '20G' }, 'providerSpec.bootDrive.size'],
  ['bootDrive', { source: { libraryDrive: UUID1 }, storageType: 'fast' }, 'providerSpec.bootDrive.storageType'],
  ['bootDrive', { source: { libraryDrive: UUID1 }, device: 'sata' }, 'providerSpec.bootDrive.device'],
  ['bootDrive', { source: { libraryDrive: UUID1 }, devChannel: '0' }, 'providerSpec.bootDrive.devChannel'],
  ['bootDrive', { size: '20Gi' }, 'providerSpec.bootDrive.source: is required'],
  ['nics', [], 'providerSpec.nics'],
  ['nics', [{ model: 'virtio' }], 'providerSpec.nics(0): a NIC needs a vlan, ipv4 or ipv6'],
  ['nics', [{ model: 'pcnet', ipv4: { conf: 'dhcp' } }], 'providerSpec.nics(0).model'],
  ['nics', [{ vlan: 'vlan-1' }], 'providerSpec.nics(0).vlan'],
  ['nics', [{ ipv4: { conf: 'static' } }], 'providerSpec.nics(0).ipv4: ip is required with conf static'],
  ['nics', [{ ipv4: { conf: 'dhcp', ip: '1.2.3.4' } }], 'providerSpec.nics(0).ipv4'],
  ['nics', [{ ipv6: { conf: 'auto' } }], 'providerSpec.nics(0).ipv6.conf'],
  ['nics', [{ ipv4: { conf: 'dhcp' }, firewallPolicy: 'fw' }], 'providerSpec.nics(0).firewallPolicy'],
  // cloudsigma-docs 965cd8e (2022): "Remove the decommissioned Firewall Policies feature".
  ['nics', [{ ipv4: { conf: 'dhcp' }, firewallPolicy: UUID1 }], 'providerSpec.nics(0).firewallPolicy: is not supported: CloudSigma decommissioned firewall policies'],
  // CloudSigma's Terraform provider: cpu IntBetween(250, ...).
  ['cpu', 249, 'providerSpec.cpu: must be the CPU clock in MHz, an integer of at least 250'],
  // cloudsigma-docs ephemeral_drives.rst: local_nvme drives "Clone — No".
  ['bootDrive', { source: { libraryDrive: UUID1 }, storageType: 'local_nvme' }, 'providerSpec.bootDrive.storageType: must be one of magnetic, ssd, dssd, zadara, nvme; local_nvme (ephemeral NVMe) cannot be cloned'],
  ['nics', [{ ipv4: { conf: 'dhcp' }, bootOrder: 0 }], 'providerSpec.nics(0).bootOrder'],
  ['nics', [{ ipv4: { conf: 'dhcp' }, mac: '22:00:00:00:00:01' }], 'unknown field "mac"'],
  ['pubkeys', ['key-1'], 'providerSpec.pubkeys(0)'],
  ['pubkeys', [UUID1, UUID1], 'providerSpec.pubkeys'],
  ['sshPublicKey', 'not a key', 'providerSpec.sshPublicKey'],
  ['tags', 'k8s', 'providerSpec.tags'],
  ['meta', { 'kubernetes.io/machine': 'evil' }, 'field name "kubernetes.io/machine" is invalid'],
  ['meta', { 'cloudinit-user-data': 'x' }, 'field name "cloudinit-user-data" is invalid'],
  ['meta', { 'a-key-that-is-longer-than-32-chars': 'x' }, 'field name "a-key-that-is-longer-than-32-chars" is invalid'],
  ['meta', { size: 5 }, 'providerSpec.meta.size'],
  ['machineType', 'c2i.2', 'unknown field "machineType"'],
];

let h: CloudSigmaHarness;
beforeAll(async () => {
  h = await CloudSigmaHarness.start();
});
afterAll(async () => {
  await h.close();
});
beforeEach(() => h.fake.reset());

test('every providerSpec field reaches the clone and create bodies, as the API wants it', async () => {
  await h.client.call('CreateMachine', h.request('alpha-worker-z1-full', { spec: FULL_SPEC }));
  const clone = h.cloneRequests()[0]!;
  expect(clone.path).toBe(`/api/2.0/libdrives/${LIBRARY_DRIVE}/action/`);
  expect(clone.body).toEqual({ name: 'mcm:shoot--garden--alpha:alpha-worker-z1-full:boot', media: 'disk', size: 20 * 1024 ** 3, storage_type: 'ssd' });

  const body = (h.createRequests()[0]!.body as { objects: Array<Record<string, unknown>> }).objects;
  expect(body).toHaveLength(1);
  const server = body[0]!;
  const [drive] = h.drivesOf();
  expect(server).toMatchObject({
    name: 'alpha-worker-z1-full',
    cpu: 4000,
    smp: 2,
    mem: 4 * 1024 ** 3,
    cpu_type: 'intel',
    cpu_model: 'kvm64',
    hypervisor: 'kvm',
    cpus_instead_of_cores: true,
    enable_numa: true,
    hv_relaxed: false,
    hv_tsc: false,
    context: true,
    drives: [{ drive: drive!.uuid, device: 'scsi', dev_channel: '0:1', boot_order: 1 }],
    nics: [
      { model: 'e1000', ip_v4_conf: { conf: 'dhcp' }, ip_v6_conf: { conf: 'manual' }, boot_order: 2 },
      { vlan: UUID2, model: 'virtio' },
      { ip_v4_conf: { conf: 'static', ip: '185.12.5.7' } },
    ],
    pubkeys: [UUID3],
    tags: [UUID1, UUID2],
  });
  expect(server.meta).toEqual({
    team: 'platform',
    'gardener.cloud/pool': 'z1',
    'kubernetes.io/machine': 'alpha-worker-z1-full',
    'kubernetes.io/machineclass': 'alpha-worker-z1',
    'mcm-grpc-driver.io/cluster': 'shoot--garden--alpha',
    'mcm-grpc-driver.io/boot-drive': drive!.uuid,
    'mcm-grpc-driver.io/created-at': expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    ssh_public_key: SSH_KEY,
    'cloudinit-user-data': Buffer.from(USER_DATA).toString('base64'),
    base64_fields: 'cloudinit-user-data',
  });
  expect(server).not.toHaveProperty('location');
  expect(server.vnc_password).toMatch(/^[A-Za-z0-9]{24}$/);
});

test('a minimal spec sends only what it says; the clone keeps the source’s size and storage', async () => {
  await h.client.call('CreateMachine', h.request('alpha-worker-z1-min'));
  expect(h.cloneRequests()[0]!.body).toEqual({ name: 'mcm:shoot--garden--alpha:alpha-worker-z1-min:boot', media: 'disk' });
  const server = (h.createRequests()[0]!.body as { objects: Array<Record<string, unknown>> }).objects[0]!;
  expect(Object.keys(server).sort()).toEqual(['context', 'cpu', 'drives', 'mem', 'meta', 'name', 'nics', 'vnc_password']);
  expect(server.mem).toBe(2 * 1024 ** 3);
  expect(server.vnc_password).toMatch(/^[A-Za-z0-9]{16}$/);
});

test('random VNC passwords differ per server; policy secret uses the Secret’s vnc-password', async () => {
  await h.client.call('CreateMachine', h.request('alpha-worker-z1-vnc1'));
  await h.client.call('CreateMachine', h.request('alpha-worker-z1-vnc2'));
  const spec = { ...BASE_SPEC, vncPassword: { policy: 'secret' } };
  await h.client.call('CreateMachine', h.request('alpha-worker-z1-vnc3', { spec, secret: h.secretData('basic', { 'vnc-password': 'vnc-from-secret-42' }) }));
  const passwords = h.createRequests().map((r) => (r.body as { objects: Array<{ vnc_password: string }> }).objects[0]!.vnc_password);
  expect(new Set(passwords).size).toBe(3);
  expect(passwords[2]).toBe('vnc-from-secret-42');
  expect(h.logs.join('\n')).not.toContain('vnc-from-secret-42');
  for (const p of passwords) expect(h.logs.join('\n')).not.toContain(p);
});

test('bootDrive.source.drive clones one of the account’s own drives', async () => {
  const golden = h.fake.seedDrive({ owner: ALICE, name: 'golden-image', size: 8 * 1024 ** 3 });
  const spec = { ...BASE_SPEC, bootDrive: { source: { drive: golden.uuid } } };
  await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-own', { spec }));
  expect(h.cloneRequests()[0]!.path).toBe(`/api/2.0/drives/${golden.uuid}/action/`);
  expect(h.drivesOf().map((d) => d.uuid)).toContain(golden.uuid);
  // Deleting the server takes its clone, never the source.
  const status = await h.client.call<Status>('GetMachineStatus', h.request('alpha-worker-z1-own'));
  await h.client.call('DeleteMachine', h.request('alpha-worker-z1-own', { providerID: status.providerId }));
  expect(h.drivesOf().map((d) => d.uuid)).toEqual([golden.uuid]);
});

test('a clone smaller than its source is refused by the API (400) and nothing is left', async () => {
  const spec = { ...BASE_SPEC, bootDrive: { source: { libraryDrive: LIBRARY_DRIVE }, size: '1Gi' } };
  const err = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-small', { spec })));
  expect(err.code).toBe(MachineCode.InvalidArgument);
  expect(err.details).toContain('can only be bigger or the same');
  expect(h.drivesOf()).toHaveLength(0);
});

test.each(INVALID)('invalid %s is refused with InvalidArgument naming it, and nothing is sent', async (field, value, path) => {
  const spec: Record<string, unknown> = { ...BASE_SPEC, [field]: value };
  const err = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-bad', { spec })));
  expect(err.code).toBe(MachineCode.InvalidArgument);
  expect(err.details).toContain(path);
  expect(err.details).not.toMatch(/[[\]]/);
  expect(h.fake.requests).toHaveLength(0);
});

test('all problems of a class and its Secret come back in one InvalidArgument', async () => {
  const spec = { cpu: 2, memry: '1Gi', bootDrive: { source: {} }, nics: [{}], vncPassword: { policy: 'secret' } };
  const err = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-all', { spec, secret: h.secretData('basic', { location: 'Zürich', password: undefined }) })));
  expect(err.code).toBe(MachineCode.InvalidArgument);
  for (const path of [
    'providerSpec.cpu',
    'providerSpec.memory: is required',
    'unknown field "memry"',
    'providerSpec.bootDrive.source',
    'providerSpec.nics(0)',
    'secret.location',
    'secret: give exactly one way to authenticate',
    'secret.vnc-password: is required',
  ]) {
    expect(err.details).toContain(path);
  }
});

describe('Secret', () => {
  test.each([
    ['no credentials', { username: undefined, password: undefined }, 'give exactly one way to authenticate'],
    ['Basic and token at once', { token: 'tok-123456' }, 'give exactly one way to authenticate'],
    ['impersonation without the client secret', { username: undefined, password: undefined, 'oauth-client-id': 'x', 'impersonate-user': ALICE }, 'give exactly one way to authenticate'],
    ['impersonate-user not an e-mail', { username: undefined, password: undefined, 'oauth-client-id': 'x', 'oauth-client-secret': 'y', 'impersonate-user': 'alice' }, 'secret.impersonate-user'],
    ['a location in neither place', { location: undefined }, 'providerSpec.location: is required unless the Secret has a location key'],
    ['an endpoint that is no URL', { 'api-endpoint': 'zrh.cloudsigma.com' }, 'secret.api-endpoint: must be an http(s) URL'],
  ])('%s is InvalidArgument', async (_what, overrides, text) => {
    const err = await callError(h.client.call('GetMachineStatus', h.request('alpha-worker-z1-sec', { secret: h.secretData('basic', overrides) })));
    expect(err.code).toBe(MachineCode.InvalidArgument);
    expect(err.details).toContain(text);
    expect(h.fake.requests).toHaveLength(0);
  });

  test('locations of class and Secret must agree', async () => {
    const err = await callError(h.client.call('GetMachineStatus', h.request('alpha-worker-z1-loc', { spec: { ...BASE_SPEC, location: 'fra' } })));
    expect(err.details).toContain('"fra" differs from the Secret\'s location "zrh"');
  });

  test('the location may come from the providerSpec alone', async () => {
    const res = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-specloc', { spec: { ...BASE_SPEC, location: 'zrh' }, secret: h.secretData('basic', { location: undefined }) }));
    expect(res.providerId).toMatch(/^cloudsigma:\/\//);
  });

  test('a Secret value never appears in an error, even when the cloud echoes it', async () => {
    h.fake.injectFault({ method: 'GET', status: 401, body: [{ error_type: 'permission', error_message: 'bad password alice-password-1 for alice', error_point: null }] });
    const err = await callError(h.client.call('GetMachineStatus', h.request('alpha-worker-z1-leak')));
    expect(err.code).toBe(MachineCode.Unauthenticated);
    expect(err.details).not.toContain('alice-password-1');
  });
});

test('a Machine name the API cannot take is refused before any create', async () => {
  const err = await callError(h.client.call('CreateMachine', h.request('x'.repeat(260))));
  expect(err.code).toBe(MachineCode.InvalidArgument);
  expect(err.details).toContain('machine.metadata.name');
  expect(h.createRequests()).toHaveLength(0);
  expect(h.cloneRequests()).toHaveLength(0);
});
