import { spawn } from 'node:child_process';
import { lstatSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { MachineCode } from '../../src/driver/codes.js';
import { MachineDriver } from '../../src/driver/machine-driver.js';
import { MachineError } from '../../src/driver/machine-error.js';
import type { CloudProvider, CloudSession } from '../../src/driver/provider.js';
import { ProviderRegistry } from '../../src/driver/provider-registry.js';
import { DriverServiceClient } from '../../src/server/driver-client.js';
import { startSidecar, type Sidecar } from '../../src/server/sidecar.js';
import { callError } from '../support/call-error.js';

/**
 * The gRPC contract itself, with a scripted cloud at the edge: every MCM code
 * travels as the status code (17 included), the responses MCM reads together
 * with an error arrive in grpc-status-details-bin, messages carry no brackets,
 * and health and reflection answer as grpcurl expects.
 */

let nextFailure: MachineError | undefined;
let getCalls = 0;
let forbiddenGet = false;
let markedVms: string[] = [];

const scriptedSession: CloudSession = {
  async get() {
    getCalls += 1;
    if (forbiddenGet) throw new MachineError(MachineCode.PermissionDenied, 'HTTP 403');
    if (nextFailure) throw nextFailure;
    return { providerId: 'scripted://1', machineName: 'm-00001', state: 'running', addresses: [] };
  },
  async findByMachine() {
    if (nextFailure) throw nextFailure;
    return markedVms.map((providerId) => ({ providerId, machineName: 'm-00001', state: 'running' as const, addresses: [] }));
  },
  async create() {
    if (nextFailure) throw nextFailure;
    return { providerId: 'scripted://1', machineName: 'm-00001', state: 'running', addresses: [] };
  },
  async delete() {
    if (nextFailure) throw nextFailure;
    return 'requested' as const;
  },
  async *list() {
    yield [];
  },
};

const scripted: CloudProvider = {
  name: 'Scripted',
  async open() {
    return scriptedSession;
  },
  volumeId(spec) {
    const csi = spec['csi'] as { driver?: string; volumeHandle?: string } | undefined;
    return csi?.driver === 'scripted.csi' ? csi.volumeHandle : undefined;
  },
};

let sidecar: Sidecar;
let client: DriverServiceClient;
const machineClass = Buffer.from(JSON.stringify({ metadata: { name: 'c', namespace: 'n' }, provider: 'Scripted', providerSpec: {} }));
const req = (providerID = '') => ({
  machine: Buffer.from(JSON.stringify({ metadata: { name: 'm-00001', namespace: 'n' }, spec: { providerID } })),
  machineClass,
  secretData: { password: Buffer.from('canary-password-91ab') },
});

beforeAll(async () => {
  sidecar = await startSidecar({
    listen: '127.0.0.1:0',
    driver: new MachineDriver(new ProviderRegistry([scripted]), { pollIntervalMs: 10, deleteTimeoutMs: 50 }),
  });
  client = new DriverServiceClient(sidecar.grpcTarget);
});
afterAll(async () => {
  client.close();
  await sidecar.shutdown();
});
afterEach(() => {
  nextFailure = undefined;
  forbiddenGet = false;
  markedVms = [];
});

test.each(Array.from({ length: 17 }, (_, i) => i + 1))('MCM code %i travels as the gRPC status code', async (code) => {
  nextFailure = new MachineError(code, `failure [${code}] with brackets`);
  const err = await callError(client.call('GetMachineStatus', req('scripted://1')));
  expect(err.code).toBe(code);
  expect(err.details).toBe(`failure (${code}) with brackets`);
});

test('GetMachineStatus Uninitialized carries providerID and nodeName in grpc-status-details-bin', async () => {
  nextFailure = new MachineError(MachineCode.Uninitialized, 'not initialized yet', { providerId: 'scripted://1', nodeName: 'm-00001' });
  const err = await callError(client.call('GetMachineStatus', req('scripted://1')));
  expect(err.code).toBe(17);
  expect(err.status?.code).toBe(17);
  expect(err.status?.details[0]?.typeName).toBe('mcm.driver.v1.GetMachineStatusResponse');
  expect(err.response).toMatchObject({ providerId: 'scripted://1', nodeName: 'm-00001' });
});

test('a failed CreateMachine carries lastKnownState in grpc-status-details-bin', async () => {
  nextFailure = new MachineError(MachineCode.Unavailable, 'cloud busy', { lastKnownState: '{"step":"clone"}' });
  const err = await callError(client.call('CreateMachine', req()));
  expect(err.code).toBe(MachineCode.Unavailable);
  expect(err.status?.details[0]?.typeName).toBe('mcm.driver.v1.CreateMachineResponse');
  expect(err.response).toMatchObject({ lastKnownState: '{"step":"clone"}' });
});

test('a failed DeleteMachine carries lastKnownState in grpc-status-details-bin', async () => {
  nextFailure = new MachineError(MachineCode.Aborted, 'conflict', { lastKnownState: 'deleting' });
  const err = await callError(client.call('DeleteMachine', req('scripted://1')));
  expect(err.status?.details[0]?.typeName).toBe('mcm.driver.v1.DeleteMachineResponse');
  expect(err.response).toMatchObject({ lastKnownState: 'deleting' });
});

test('a Secret value that leaks into an error message is redacted', async () => {
  nextFailure = new MachineError(MachineCode.Internal, 'cloud echoed canary-password-91ab back');
  const err = await callError(client.call('GetMachineStatus', req('scripted://1')));
  expect(err.details).not.toContain('canary-password-91ab');
  expect(err.details).toContain('<redacted>');
});

test('GetVolumeIDs returns the IDs of volumes a cloud serves and skips the others', async () => {
  const pv = (driver: string, handle: string) => Buffer.from(JSON.stringify({ csi: { driver, volumeHandle: handle } }));
  const res = await client.call<{ volumeIds: string[] }>('GetVolumeIDs', { pvSpecs: [pv('scripted.csi', 'vol-1'), pv('other.csi', 'vol-2'), Buffer.from('not json')] });
  expect(res.volumeIds).toEqual(['vol-1']);
});

test('health reports SERVING for the server and the Driver service', async () => {
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(healthProtoPath, { enums: String })) as unknown as {
    grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
  };
  const health = new pkg.grpc.health.v1.Health(sidecar.grpcTarget, grpc.credentials.createInsecure());
  const check = (service: string) =>
    new Promise<string>((resolve, reject) =>
      (health as unknown as { check: Function }).check({ service }, (err: Error | null, res: { status: string }) => (err ? reject(err) : resolve(res.status))),
    );
  expect(await check('')).toBe('SERVING');
  expect(await check('mcm.driver.v1.Driver')).toBe('SERVING');
  health.close();
});

type ReflectionAnswer = {
  listServicesResponse?: { service: Array<{ name: string }> };
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
  errorResponse?: { errorCode: number; errorMessage: string };
};

/** One request on a reflection stream of the given version, as grpcurl sends them (v1 first, v1alpha for older servers). */
async function reflect(version: 'v1' | 'v1alpha', request: object, target = sidecar.grpcTarget): Promise<ReflectionAnswer> {
  const require = createRequire(import.meta.url);
  const reflectionProto = require.resolve(`@grpc/reflection/build/proto/grpc/reflection/${version}/reflection.proto`);
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(reflectionProto)) as unknown as {
    grpc: { reflection: Record<string, { ServerReflection: grpc.ServiceClientConstructor }> };
  };
  const reflection = new pkg.grpc.reflection[version]!.ServerReflection(target, grpc.credentials.createInsecure());
  const stream = (reflection as unknown as { ServerReflectionInfo: () => grpc.ClientDuplexStream<object, ReflectionAnswer> }).ServerReflectionInfo();
  try {
    return await new Promise<ReflectionAnswer>((resolve, reject) => {
      stream.on('data', (msg: ReflectionAnswer) => {
        resolve(msg);
        stream.end();
      });
      stream.on('error', reject);
      stream.write(request);
    });
  } finally {
    reflection.close();
  }
}

test.each(['v1', 'v1alpha'] as const)('server reflection %s lists mcm.driver.v1.Driver and health (what grpcurl list shows)', async (version) => {
  const answer = await reflect(version, { listServices: '' });
  const names = (answer.listServicesResponse?.service ?? []).map((s) => s.name);
  expect(names).toEqual(expect.arrayContaining(['mcm.driver.v1.Driver', 'grpc.health.v1.Health']));
});

test.each(['v1', 'v1alpha'] as const)('server reflection %s describes the Driver service with protoc names (what grpcurl describe reads)', async (version) => {
  const answer = await reflect(version, { fileContainingSymbol: 'mcm.driver.v1.Driver' });
  expect(answer.errorResponse).toBeUndefined();
  const files = answer.fileDescriptorResponse?.fileDescriptorProto ?? [];
  const text = Buffer.concat(files).toString('latin1');
  expect(text).toContain('GetMachineStatus');
  // The map entry as protoc names it (reflection-descriptors.ts): grpcurl rejects protobufjs's own name.
  expect(text).toContain('SecretDataEntry');
});

test('@grpc/reflection is imported on the first reflection call, not at start', async () => {
  // A fresh process: this test file's own imports (and the calls above) have loaded it here already.
  const script = `
    const { createRequire } = await import('node:module');
    const require = createRequire(process.cwd() + '/');
    const { startSidecar } = await import('./src/server/sidecar.ts');
    const { MachineDriver } = await import('./src/driver/machine-driver.ts');
    const { ProviderRegistry } = await import('./src/driver/provider-registry.ts');
    const loaded = () => Object.keys(require.cache).some((p) => p.includes('@grpc/reflection'));
    const sidecar = await startSidecar({ listen: '127.0.0.1:0', driver: new MachineDriver(new ProviderRegistry([])) });
    console.log(JSON.stringify({ target: sidecar.grpcTarget, loaded: loaded() }));
    process.stdin.once('data', () => { console.log(JSON.stringify({ loaded: loaded() })); sidecar.shutdown().then(() => process.exit(0)); });
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const nextLine = () =>
    new Promise<{ target?: string; loaded: boolean }>((resolve) => {
      const take = () => (lines.length ? resolve(JSON.parse(lines.shift()!)) : child.stdout!.once('data', (d: Buffer) => (lines.push(...d.toString().split('\n').filter((l) => l.startsWith('{'))), take())));
      take();
    });
  try {
    const atStart = await nextLine();
    expect(atStart.loaded).toBe(false);
    const answer = await reflect('v1', { listServices: '' }, atStart.target);
    expect((answer.listServicesResponse?.service ?? []).map((s) => s.name)).toContain('mcm.driver.v1.Driver');
    child.stdin!.write('\n');
    expect((await nextLine()).loaded).toBe(true);
  } finally {
    child.kill();
  }
}, 60_000);

test('a unix socket endpoint serves the same contract, even where a killed predecessor left its socket file', async () => {
  const path = `/tmp/mcm-driver-test-${process.pid}/driver.sock`;
  mkdirSync(dirname(path), { recursive: true });
  const predecessor = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve) => predecessor.stdout!.once('data', resolve));
  predecessor.kill('SIGKILL');
  await new Promise((resolve) => predecessor.once('exit', resolve));
  expect(lstatSync(path).isSocket()).toBe(true);
  const onSocket = await startSidecar({ listen: `unix://${path}`, driver: new MachineDriver(new ProviderRegistry([scripted])) });
  const unixClient = new DriverServiceClient(onSocket.grpcTarget);
  try {
    const res = await unixClient.call<{ providerId: string }>('GetMachineStatus', req('scripted://1'));
    expect(res.providerId).toBe('scripted://1');
  } finally {
    unixClient.close();
    await onSocket.shutdown();
  }
});

test('a cancelled call stops its cloud work', async () => {
  // Here the delete would wait a minute for the scripted VM (which never goes): only the
  // cancellation can end the polling, so the test fails if the server ignores it.
  const patient = await startSidecar({
    listen: '127.0.0.1:0',
    driver: new MachineDriver(new ProviderRegistry([scripted]), { pollIntervalMs: 10, deleteTimeoutMs: 60_000 }),
  });
  const patientClient = new DriverServiceClient(patient.grpcTarget);
  try {
    const raw = (patientClient as unknown as { client: grpc.Client }).client as unknown as Record<string, Function>;
    const before = getCalls;
    let ended: grpc.ServiceError | null | undefined;
    const call = raw['DeleteMachine']!.call(raw, req('scripted://1'), new grpc.Metadata(), {}, (err: grpc.ServiceError | null) => {
      ended = err;
    }) as grpc.ClientUnaryCall;
    await new Promise((r) => setTimeout(r, 300));
    const whileRunning = getCalls;
    expect(whileRunning).toBeGreaterThan(before + 3); // it was polling
    call.cancel();
    await new Promise((r) => setTimeout(r, 100));
    const afterCancel = getCalls;
    await new Promise((r) => setTimeout(r, 300));
    expect(getCalls).toBe(afterCancel); // no cloud request after the cancellation settled
    expect(ended?.code).toBe(grpc.status.CANCELLED);
  } finally {
    patientClient.close();
    await patient.shutdown();
  }
});

describe('a stored providerID that answers 403 (exists, not ours to see)', () => {
  test('is healed to the one accessible VM carrying the Machine’s markers', async () => {
    forbiddenGet = true;
    markedVms = ['scripted://healed'];
    const res = await client.call<{ providerId: string }>('GetMachineStatus', req('scripted://stale'));
    expect(res.providerId).toBe('scripted://healed');
  });

  test('is PermissionDenied, never NotFound, when no accessible VM carries the markers', async () => {
    forbiddenGet = true;
    const err = await callError(client.call('GetMachineStatus', req('scripted://stale')));
    expect(err.code).toBe(MachineCode.PermissionDenied);
    expect(err.details).toContain('will not create a second VM');
  });

  test('with several accessible VMs carrying the markers, reports one of them (the same every time), never NotFound', async () => {
    forbiddenGet = true;
    markedVms = ['scripted://b', 'scripted://a'];
    const res = await client.call<{ providerId: string }>('GetMachineStatus', req('scripted://stale'));
    // No creation time: ties go by providerID, so every caller keeps the same one (the other is asked to go).
    expect(res.providerId).toBe('scripted://a');
  });
});
