import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { MachineCode } from '../../src/driver/codes.js';
import { DriverServiceClient, isDriverCallError } from '../../src/server/driver-client.js';
import { packageRoot } from '../../src/support/package-root.js';
import { startStackitFake, type StackitFake } from '../fakes/stackit/index.js';
import { BASE_SPEC, CLASS_NAME, NAMESPACE, PROJECT_ID, STATIC_TOKEN, USER_DATA } from '../support/stackit-harness.js';

/**
 * `mcm-driver serve` as a real process: endpoints from the environment,
 * /healthz /readyz /metrics, JSON logs without secrets, and SIGTERM letting
 * in-flight calls finish (or answering them Unavailable when the grace ends).
 */

interface Served {
  proc: ChildProcess;
  grpc: string;
  http: string;
  stderr: string[];
  exited: Promise<number | null>;
}

async function serve(fake: StackitFake, extraArgs: string[] = []): Promise<Served> {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', join(packageRoot, 'src/cli/main.ts'), 'serve', '--listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', '--poll-interval', '50ms', ...extraArgs],
    { env: { ...process.env, NODE_OPTIONS: '', STACKIT_API_ENDPOINT: fake.url, LOG_LEVEL: 'debug' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const stderr: string[] = [];
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const started = await new Promise<{ grpc: string; http: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr.join('')}`)), 30_000);
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        stderr.push(line);
        if (line.includes('"sidecar serving"')) {
          clearTimeout(timer);
          const rec = JSON.parse(line) as { grpc: string; http: string };
          resolve(rec);
        }
      }
    };
    proc.stderr!.on('data', onData);
    proc.stdout!.on('data', onData);
    proc.on('exit', () => reject(new Error(`serve exited: ${stderr.join('\n')}`)));
  });
  return { proc, stderr, exited, ...started };
}

const request = (name: string) => ({
  machine: Buffer.from(JSON.stringify({ metadata: { name, namespace: NAMESPACE }, spec: { providerID: '' } })),
  machineClass: Buffer.from(JSON.stringify({ metadata: { name: CLASS_NAME, namespace: NAMESPACE }, provider: 'STACKIT', providerSpec: BASE_SPEC })),
  secretData: { 'project-id': Buffer.from(PROJECT_ID), token: Buffer.from(STATIC_TOKEN), userData: Buffer.from(USER_DATA) },
});

test('health, readiness and metrics after a lifecycle; logs carry request fields and no secrets', async () => {
  const fake = await startStackitFake({ activeAfterMs: 50 });
  const s = await serve(fake);
  const client = new DriverServiceClient(s.grpc);
  try {
    expect((await fetch(`${s.http}/healthz`)).status).toBe(200);
    expect((await fetch(`${s.http}/readyz`)).status).toBe(200);
    const created = await client.call<{ providerId: string }>('CreateMachine', request('alpha-worker-z1-cli'));
    await client.call('ListMachines', { machineClass: request('x').machineClass, secretData: request('x').secretData });
    await client.call('DeleteMachine', { ...request('alpha-worker-z1-cli'), machine: Buffer.from(JSON.stringify({ metadata: { name: 'alpha-worker-z1-cli', namespace: NAMESPACE }, spec: { providerID: created.providerId } })) });
    const metrics = await (await fetch(`${s.http}/metrics`)).text();
    expect(metrics).toMatch(/mcm_driver_rpc_requests_total\{method="CreateMachine",provider="STACKIT",code="OK"\} 1/);
    expect(metrics).toMatch(/mcm_driver_rpc_requests_total\{method="DeleteMachine",provider="STACKIT",code="OK"\} 1/);
    expect(metrics).toMatch(/mcm_driver_cloud_requests_total\{cloud="stackit",operation="create server",status="201"\} 1/);
    expect(metrics).toMatch(/mcm_driver_vm_create_duration_seconds_count\{provider="STACKIT"\} 1/);
    expect(metrics).not.toContain(STATIC_TOKEN);
  } finally {
    client.close();
    s.proc.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    await fake.close();
  }
  const rpcLines = s.stderr.filter((l) => l.includes('"message":"rpc"')).map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(rpcLines.length).toBeGreaterThanOrEqual(3);
  for (const line of rpcLines) {
    expect(line).toEqual(expect.objectContaining({ requestId: expect.any(String), method: expect.any(String), provider: 'STACKIT', code: expect.any(String), durationMs: expect.any(Number) }));
  }
  const all = s.stderr.join('\n');
  expect(all).toContain('"operation":"create server"'); // cloud calls at debug
  expect(all).not.toContain(STATIC_TOKEN);
  expect(all).not.toContain('canary-userdata');
  expect(all).not.toContain(Buffer.from(USER_DATA).toString('base64'));
});

test('SIGTERM lets an in-flight CreateMachine finish, then exits 0', async () => {
  const fake = await startStackitFake({ activeAfterMs: 1_500 });
  const s = await serve(fake, ['--shutdown-grace', '20s']);
  const client = new DriverServiceClient(s.grpc);
  try {
    const pending = client.call<{ providerId: string }>('CreateMachine', request('alpha-worker-z1-term'));
    // SIGTERM once the server exists (its create took effect), not after a fixed time: the first call of a cloud
    // loads its adapter, which takes longer than any fixed pause on a loaded machine.
    for (let i = 0; i < 600 && fake.servers().length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(fake.servers()).toHaveLength(1);
    s.proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    expect((await fetch(`${s.http}/readyz`).catch(() => ({ status: 0 }))).status).not.toBe(200);
    const res = await pending;
    expect(res.providerId).toContain(fake.servers()[0]!.id);
    expect(await s.exited).toBe(0);
  } finally {
    client.close();
    s.proc.kill('SIGKILL');
    await fake.close();
  }
});

test('when the grace period ends first, the call is answered Unavailable with lastKnownState and the process exits 0', async () => {
  const fake = await startStackitFake({ activeAfterMs: 60_000 });
  const s = await serve(fake, ['--shutdown-grace', '500ms']);
  const client = new DriverServiceClient(s.grpc);
  try {
    const pending = client.call('CreateMachine', request('alpha-worker-z1-grace'));
    // SIGTERM once the server exists (its create took effect), not after a fixed time: the first call of a cloud
    // loads its adapter, which takes longer than any fixed pause on a loaded machine.
    for (let i = 0; i < 600 && fake.servers().length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(fake.servers()).toHaveLength(1);
    s.proc.kill('SIGTERM');
    const err = await pending.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isDriverCallError(err)).toBe(true);
    if (!isDriverCallError(err)) return;
    expect(err.code).toBe(MachineCode.Unavailable);
    expect(String(err.response?.lastKnownState)).toContain(fake.servers()[0]!.id);
    expect(await s.exited).toBe(0);
  } finally {
    client.close();
    s.proc.kill('SIGKILL');
    await fake.close();
  }
});

/** Runs `mcm-driver serve` with these flags and returns its exit code and output; a refused start exits before listening. */
async function refusedStart(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(packageRoot, 'src/cli/main.ts'), 'serve', '--http-listen', '', ...args], {
    env: { ...process.env, NODE_OPTIONS: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => proc.on('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, output };
}

test.each([
  [['--listen', '0.0.0.0:50051'], {}, '--listen 0.0.0.0:50051'],
  [['--listen', '[::]:50051'], {}, '--listen [::]:50051'],
  [['--listen', '127.0.0.1:0', '--http-retries', 'four'], {}, "--http-retries"],
  [['--listen', '127.0.0.1:0', '--max-cloud-response', '-1'], {}, '--max-cloud-response'],
  [['--listen', '127.0.0.1:0', '--poll-interval', '2 seconds'], {}, '--poll-interval'],
  [['--listen', '127.0.0.1:0', '--shutdown-grace', 'soon'], {}, '--shutdown-grace'],
  [['--listen', '127.0.0.1:0', '--log-level', 'verbose'], {}, '--log-level'],
  [['--listen', '127.0.0.1:0'], { LOG_LEVEL: 'chatty' }, "env 'LOG_LEVEL'"],
])('serve %j refuses to start, exits non-zero and names the flag', async (args, env, named) => {
  const { code, output } = await refusedStart(args, env as Record<string, string>);
  expect(code).not.toBe(0);
  expect(output).toContain(named);
  expect(output).not.toContain('sidecar serving');
});

test('--allow-non-loopback-listen lets the operator bind a non-loopback address on purpose', async () => {
  const fake = await startStackitFake();
  try {
    // serve() resolves only on the "sidecar serving" line, so reaching it proves the bind was accepted.
    const s = await serve(fake, ['--listen', '0.0.0.0:0', '--allow-non-loopback-listen']);
    expect(s.grpc).toMatch(/^0\.0\.0\.0:\d+$/);
    s.proc.kill('SIGKILL');
    await s.exited;
  } finally {
    await fake.close();
  }
});
