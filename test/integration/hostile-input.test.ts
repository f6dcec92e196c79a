import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { MachineCode } from '../../src/driver/codes.js';
import { MachineDriver } from '../../src/driver/machine-driver.js';
import { defaultProviders } from '../../src/providers/index.js';
import { DriverServiceClient, isDriverCallError, type DriverMethod } from '../../src/server/driver-client.js';
import { startSidecar, type Sidecar } from '../../src/server/sidecar.js';

/**
 * Property-based: random and adversarial Machines, MachineClasses, Secrets
 * and raw bytes never crash, hang or leak an unhandled rejection; every call
 * ends with InvalidArgument (or Unavailable when a request was well-formed
 * enough to reach the cloud, which here is a closed port), and the server
 * stays healthy afterwards.
 */

let sidecar: Sidecar;
let client: DriverServiceClient;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  const driver = new MachineDriver(
    defaultProviders({ httpTimeoutMs: 500, retry: { limit: 0 }, stackit: { iaasEndpoint: 'http://127.0.0.1:1', tokenEndpoint: 'http://127.0.0.1:1/token' } }),
    { pollIntervalMs: 10, createTimeoutMs: 500, deleteTimeoutMs: 500 },
  );
  sidecar = await startSidecar({ listen: '127.0.0.1:0', driver });
  client = new DriverServiceClient(sidecar.grpcTarget);
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  client.close();
  await sidecar.shutdown();
});

const bytes = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v) ?? 'null');

const hostileString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.constantFrom('', ' ', '[', ']]]', '\u0000', '../../etc', 'a'.repeat(70), 'stackit://x/y', '{"__proto__":{"polluted":1}}'),
);
const specValue = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.record({ region: hostileString, machineType: hostileString, imageId: hostileString, networking: fc.jsonValue({ maxDepth: 2 }) }, { requiredKeys: [] }),
);
const machineJson = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map(bytes),
  fc.record({ metadata: fc.record({ name: hostileString, namespace: hostileString }, { requiredKeys: [] }), spec: fc.record({ providerID: hostileString }, { requiredKeys: [] }) }, { requiredKeys: [] }).map(bytes),
  fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
);
const classJson = fc.oneof(
  fc.record({
    metadata: fc.record({ name: hostileString, namespace: hostileString }, { requiredKeys: [] }),
    provider: fc.oneof(fc.constantFrom('STACKIT', 'stackit', 'AWS', ''), hostileString),
    providerSpec: specValue,
  }, { requiredKeys: [] }).map(bytes),
  fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
);
const secret = fc.dictionary(fc.oneof(fc.constantFrom('project-id', 'token', 'serviceaccount.json', 'userData', 'iaas-endpoint'), fc.string()), hostileString.map((s) => Buffer.from(s)), { maxKeys: 6 });

const MACHINE_METHODS: DriverMethod[] = ['CreateMachine', 'InitializeMachine', 'DeleteMachine', 'GetMachineStatus'];
const ALLOWED = new Set([MachineCode.InvalidArgument, MachineCode.Unavailable, MachineCode.DeadlineExceeded, MachineCode.NotFound]);

test('machine calls with hostile requests end with a documented code', async () => {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...MACHINE_METHODS), machineJson, classJson, secret, async (method, machine, machineClass, secretData) => {
      try {
        await client.call(method, { machine, machineClass, secretData }, { deadlineMs: 5_000 });
      } catch (err) {
        if (!isDriverCallError(err)) throw err;
        expect(ALLOWED).toContain(err.code);
        expect(err.details).not.toMatch(/[[\]]/);
      }
    }),
    { numRuns: 300 },
  );
});

test('ListMachines with hostile classes answers an empty list or Unavailable, never another error', async () => {
  await fc.assert(
    fc.asyncProperty(classJson, secret, async (machineClass, secretData) => {
      try {
        const res = await client.call<{ machineList: Record<string, string> }>('ListMachines', { machineClass, secretData }, { deadlineMs: 5_000 });
        expect(res.machineList).toEqual({});
      } catch (err) {
        if (!isDriverCallError(err)) throw err;
        expect([MachineCode.Unavailable, MachineCode.DeadlineExceeded]).toContain(err.code);
      }
    }),
    { numRuns: 200 },
  );
});

test('huge and deeply nested inputs are refused cleanly', async () => {
  const deep = (n: number) => `{"labels":`.repeat(n) + '"x"' + '}'.repeat(n);
  const cases = [
    { machine: bytes({ metadata: { name: 'm'.repeat(3_000_000), namespace: 'n' } }), machineClass: bytes({ metadata: { name: 'c', namespace: 'n' }, provider: 'STACKIT', providerSpec: {} }) },
    { machine: bytes({ metadata: { name: 'valid-1', namespace: 'n' } }), machineClass: Buffer.from(`{"metadata":{"name":"c","namespace":"n"},"provider":"STACKIT","providerSpec":${deep(5_000)}}`) },
    { machine: bytes({ metadata: { name: 'valid-1', namespace: 'n' } }), machineClass: Buffer.from(`{"metadata":{"name":"c","namespace":"n"},"provider":"STACKIT","providerSpec":${deep(200_000)}}`) },
    { machine: Buffer.from('['.repeat(100_000)), machineClass: Buffer.from('{'.repeat(100_000)) },
  ];
  for (const c of cases) {
    const err = await client.call('CreateMachine', { ...c, secretData: {} }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isDriverCallError(err) && err.code).toBe(MachineCode.InvalidArgument);
  }
});

test('a request over the size limit is refused by gRPC, not processed', async () => {
  const err = await client.call('CreateMachine', { machine: Buffer.alloc(5 * 1024 * 1024, 'a'), machineClass: Buffer.from('{}'), secretData: {} }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isDriverCallError(err) && err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
});

test('random bytes instead of a protobuf message are refused, and the server stays healthy', async () => {
  const raw = new grpc.Client(sidecar.grpcTarget, grpc.credentials.createInsecure());
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 512 }), async (payload) => {
      const code = await new Promise<number>((resolve) =>
        raw.makeUnaryRequest(
          '/mcm.driver.v1.Driver/CreateMachine',
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from(payload),
          (err) => resolve(err ? err.code : 0),
        ),
      );
      // Bytes that happen to decode are a request like any other (InvalidArgument); the rest grpc-js refuses (Internal).
      expect([MachineCode.InvalidArgument, MachineCode.Internal]).toContain(code);
    }),
    { numRuns: 100 },
  );
  raw.close();
  const ok = await client.call<{ machineList: object }>('ListMachines', { machineClass: bytes({ metadata: { name: 'c', namespace: 'n' }, provider: 'AWS', providerSpec: {} }), secretData: {} });
  expect(ok.machineList).toEqual({});
  expect(unhandled).toEqual([]);
});
