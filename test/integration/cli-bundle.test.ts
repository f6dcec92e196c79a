import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { MachineCode } from '../../src/driver/codes.js';
import { DriverServiceClient, isDriverCallError } from '../../src/server/driver-client.js';
import { packageRoot } from '../../src/support/package-root.js';
import { startStackitFake, type StackitFake } from '../fakes/stackit/index.js';
import { BASE_SPEC, CLASS_NAME, NAMESPACE, PROJECT_ID, STATIC_TOKEN, USER_DATA } from '../support/stackit-harness.js';

/**
 * The sidecar as it ships: `npm run build:bundle` (scripts/bundle.mjs) into a folder of its own, then
 * `node <bundle>/main.js` with no tsx and no src/ on the module path. What a bundle can break is what is
 * found at run time: proto/ from the package root, each cloud's schema files beside the chunks, the
 * .proto files grpc-health-check and @grpc/reflection read from their own __dirname, the lazily
 * imported chunks (a cloud's adapter, reflection, validate, schema), and the CommonJS dependencies'
 * require. Each is exercised below from the bundle.
 */

// Under the package root (.cache/ is git-ignored): the bundle finds proto/ by walking up to package.json.
mkdirSync(join(packageRoot, '.cache'), { recursive: true });
const workDir = mkdtempSync(join(packageRoot, '.cache', 'bundle-test-'));
const bundleDir = join(workDir, 'bundle');
const MAIN = join(bundleDir, 'main.js');
// The same node flags as the images (Dockerfile; bench/lib/node-flags.ts).
const NODE_FLAGS = ['--max-semi-space-size=2', '--heap-growing-percent=20'];

beforeAll(() => {
  const built = spawnSync(process.execPath, [join(packageRoot, 'scripts/bundle.mjs'), bundleDir], { cwd: packageRoot, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`bundle build failed: ${built.stdout}\n${built.stderr}`);
});
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

/** Runs the bundled CLI to completion with a clean environment (no tsx loader). */
function runCli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...NODE_FLAGS, MAIN, ...args], { cwd: workDir, env: { ...process.env, NODE_OPTIONS: '' }, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const HealthClient = (grpc.loadPackageDefinition(protoLoader.loadSync(healthProtoPath, { enums: String })) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } }).grpc.health.v1
  .Health;

function healthStatus(target: string): Promise<string> {
  const client = new HealthClient(target, grpc.credentials.createInsecure());
  return new Promise<string>((resolve, reject) =>
    (client as unknown as { Check: Function }).Check({ service: 'mcm.driver.v1.Driver' }, (err: Error | null, res: { status: string }) => (client.close(), err ? reject(err) : resolve(res.status))),
  );
}

/** One reflection request, as grpcurl sends it: this is the chunk that reads @grpc/reflection's own .proto files. */
function listServices(target: string): Promise<string[]> {
  const proto = createRequire(import.meta.url).resolve('@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto');
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(proto)) as unknown as { grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } } };
  const client = new pkg.grpc.reflection.v1.ServerReflection(target, grpc.credentials.createInsecure());
  type Answer = { listServicesResponse?: { service: Array<{ name: string }> } };
  const stream = (client as unknown as { ServerReflectionInfo: () => grpc.ClientDuplexStream<object, Answer> }).ServerReflectionInfo();
  return new Promise<string[]>((resolve, reject) => {
    stream.on('data', (msg: Answer) => {
      resolve((msg.listServicesResponse?.service ?? []).map((s) => s.name));
      stream.end();
    });
    stream.on('error', reject);
    stream.write({ listServices: '' });
  }).finally(() => client.close());
}

const request = (name: string) => ({
  machine: Buffer.from(JSON.stringify({ metadata: { name, namespace: NAMESPACE }, spec: { providerID: '' } })),
  machineClass: Buffer.from(JSON.stringify({ metadata: { name: CLASS_NAME, namespace: NAMESPACE }, provider: 'STACKIT', providerSpec: BASE_SPEC })),
  secretData: { 'project-id': Buffer.from(PROJECT_ID), token: Buffer.from(STATIC_TOKEN), userData: Buffer.from(USER_DATA) },
});

test('serve from the bundle: gRPC health SERVING, a CreateMachine against the fake, an error answer, every adapter, server reflection', async () => {
  const fake: StackitFake = await startStackitFake({ activeAfterMs: 0 });
  const proc = spawn(process.execPath, [...NODE_FLAGS, MAIN, 'serve', '--listen', '127.0.0.1:0', '--http-listen', '', '--poll-interval', '20ms'], {
    cwd: workDir,
    env: { ...process.env, NODE_OPTIONS: '', STACKIT_API_ENDPOINT: fake.url, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  let client: DriverServiceClient | undefined;
  try {
    const target = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve did not start: ${output.join('')}`)), 30_000);
      const onData = (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          output.push(line);
          if (line.includes('"sidecar serving"')) {
            clearTimeout(timer);
            resolve((JSON.parse(line) as { grpc: string }).grpc);
          }
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      void exited.then(() => reject(new Error(`serve exited: ${output.join('\n')}`)));
    });
    expect(await healthStatus(target)).toBe('SERVING');

    client = new DriverServiceClient(target);
    // The STACKIT adapter's chunk, its schemas and validators, got and the fake's HTTP API.
    const created = await client.call<{ providerId: string; nodeName: string }>('CreateMachine', request('alpha-worker-z1-bundle'));
    expect(created.providerId).toContain(fake.servers()[0]!.id);
    expect(fake.servers()).toHaveLength(1);

    // An error answer carries google.rpc.Status, parsed from proto/ on first use (src/server/proto.ts).
    const missing = await client.call('GetMachineStatus', { ...request('alpha-worker-z1-none'), machine: Buffer.from(JSON.stringify({ metadata: { name: 'alpha-worker-z1-none', namespace: NAMESPACE }, spec: { providerID: '' } })) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isDriverCallError(missing) && missing.code).toBe(MachineCode.NotFound);

    // GetVolumeIDs asks every cloud: the CloudSigma and VPSie adapter chunks load too.
    const pv = (driver: string, handle: string) => Buffer.from(JSON.stringify({ csi: { driver, volumeHandle: handle } }));
    const volumes = await client.call<{ volumeIds: string[] }>('GetVolumeIDs', {
      pvSpecs: [pv('block-storage.csi.stackit.cloud', 'v-stackit'), pv('csi.cloudsigma.com', 'v-cloudsigma'), pv('vpsie.csi.vpsie.com', 'v-vpsie'), pv('ebs.csi.aws.com', 'v-aws')],
    });
    expect(volumes.volumeIds).toEqual(['v-stackit', 'v-cloudsigma', 'v-vpsie']);

    expect(await listServices(target)).toEqual(expect.arrayContaining(['mcm.driver.v1.Driver', 'grpc.health.v1.Health']));
  } finally {
    client?.close();
    proc.kill('SIGTERM');
    await fake.close();
  }
  expect(await exited).toBe(0);
});

test('validate and schema from the bundle read the schema files', () => {
  const ok = runCli(['validate', join(packageRoot, 'samples/stackit/machine-class-minimal.yaml')]);
  expect(ok).toEqual(expect.objectContaining({ code: 0, stdout: '1 file(s): no problems\n' }));

  const broken = join(workDir, 'broken.yaml');
  writeFileSync(broken, readFileSync(join(packageRoot, 'samples/stackit/machine-class-minimal.yaml'), 'utf8').replace('machineType: c2i.2', 'machineType: 7'));
  const bad = runCli(['validate', broken]);
  expect(bad.code).toBe(1);
  expect(bad.stdout).toContain('machineType');

  const schema = runCli(['schema', '--provider', 'STACKIT']);
  expect(schema.code).toBe(0);
  const parsed = JSON.parse(schema.stdout) as { title: string; properties: { providerSpec: { required?: string[] } } };
  expect(parsed.title).toBe('MachineClass for STACKIT');
  expect(parsed.properties.providerSpec.required).toEqual(expect.arrayContaining(['machineType']));
});
