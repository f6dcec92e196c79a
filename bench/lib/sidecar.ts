// The sidecar as it ships: bundled by scripts/bundle.mjs (what `npm run build:bundle` puts in
// dist/bundle and the images launch) into bench/.build/bundle and run as its own process with
// `node bench/.build/bundle/main.js serve`, gRPC on a loopback port. The tsc output
// (tsconfig.build.json, bench/.build/src) is built too: the per-module import costs (§4b) and the
// CPU profile (§6), which attribute cost to source files and packages, a bundle would hide.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { DriverClient, loaderOptions } from '../../src/server/proto.js';
import type { DriverMethod } from '../../src/server/driver-client.js';
import { benchNodeFlags } from './node-flags.js';

export const ROOT = new URL('../../', import.meta.url).pathname.replace(/\/$/, '');
export const BUILD_DIR = join(ROOT, 'bench', '.build');
/** The CLI as it ships (dist/bundle/main.js in the images): every sidecar of the bench runs it, unless told otherwise. */
export const BUNDLE_MAIN_JS = join(BUILD_DIR, 'bundle', 'main.js');
/** The same CLI as tsc emits it, one file per module: for the CPU profile, whose frames name source files. */
export const TSC_MAIN_JS = join(BUILD_DIR, 'src', 'cli', 'main.js');
/** The node flags every sidecar of the bench runs with (production's; see node-flags.ts). */
export const SIDECAR_NODE_FLAGS = benchNodeFlags(ROOT);

/**
 * Compiles src/ (and test/fakes, per tsconfig.build.json) into bench/.build and bundles it into
 * bench/.build/bundle as `npm run build:bundle` does into dist/bundle, so the bench runs the
 * JavaScript that ships and never touches dist/. tsc emits even when files being written
 * by others fail to typecheck; that is reported, not fatal, as long as main.js is there.
 */
export function buildSidecar(): { ms: number; bundleMs: number; typeErrors: string[] } {
  const started = performance.now();
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', BUILD_DIR], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  const typeErrors = (r.stdout ?? '').split('\n').filter((l) => /error TS\d+/.test(l));
  if (!existsSync(TSC_MAIN_JS)) throw new Error(`tsc did not produce ${TSC_MAIN_JS}:\n${r.stdout}\n${r.stderr}`);
  const ms = performance.now() - started;
  const bundleStarted = performance.now();
  const b = spawnSync(process.execPath, [join(ROOT, 'scripts', 'bundle.mjs'), join(BUILD_DIR, 'bundle')], { cwd: ROOT, encoding: 'utf8' });
  if (b.status !== 0 || !existsSync(BUNDLE_MAIN_JS)) throw new Error(`scripts/bundle.mjs did not produce ${BUNDLE_MAIN_JS}:\n${b.stdout}\n${b.stderr}`);
  return { ms, bundleMs: performance.now() - bundleStarted, typeErrors };
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface SidecarOptions {
  /** Where the clouds are, e.g. { STACKIT_API_ENDPOINT: fake.url }. */
  env: Record<string, string>;
  /** --poll-interval in ms (the bench uses 1 ms: waits cost the same on both sides, see README). */
  pollIntervalMs?: number;
  /** Extra node flags, e.g. --cpu-prof (after the production flags, SIDECAR_NODE_FLAGS). */
  nodeArgs?: string[];
  /** Name of the stderr log file under bench/.build/logs. */
  logName: string;
  /** The CLI to run: BUNDLE_MAIN_JS (as it ships) unless given. */
  main?: string;
}

export interface SidecarProcess {
  pid: number;
  target: string;
  /** Its /healthz, /readyz, /metrics. */
  httpUrl: string;
  /** Wall time from spawn to the first gRPC health answer SERVING. */
  startMs: number;
  stop(): Promise<number | null>;
}

/** Spawns the sidecar and resolves once gRPC health answers SERVING. */
export async function startSidecar(options: SidecarOptions): Promise<SidecarProcess> {
  const [port, httpPort] = [await freePort(), await freePort()];
  const target = `127.0.0.1:${port}`;
  const logDir = join(BUILD_DIR, 'logs');
  mkdirSync(logDir, { recursive: true });
  const logFd = openSync(join(logDir, `${options.logName}.log`), 'w');
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env, LOG_LEVEL: 'info' };
  delete env.NODE_OPTIONS;
  const args = [
    ...SIDECAR_NODE_FLAGS.flags,
    ...(options.nodeArgs ?? []),
    options.main ?? BUNDLE_MAIN_JS,
    'serve',
    '--listen', target,
    '--http-listen', `127.0.0.1:${httpPort}`,
    '--poll-interval', `${options.pollIntervalMs ?? 1}ms`,
    '--create-timeout', '60s',
    '--delete-timeout', '60s',
    '--http-timeout', '60s',
    '--shutdown-grace', '5s',
  ];
  const started = performance.now();
  const child: ChildProcess = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'ignore', logFd] });
  closeSync(logFd);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await waitServing(target, 30_000, exited);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const startMs = performance.now() - started;
  return {
    pid: child.pid!,
    target,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    startMs,
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

const HealthClient = (grpc.loadPackageDefinition(protoLoader.loadSync(healthProtoPath, loaderOptions)) as unknown as {
  grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
}).grpc.health.v1.Health;

/** Polls grpc.health.v1.Health/Check (fast reconnects, wait-for-ready) until SERVING. */
async function waitServing(target: string, timeoutMs: number, exited: Promise<number | null>): Promise<void> {
  const client = new HealthClient(target, grpc.credentials.createInsecure(), {
    'grpc.initial_reconnect_backoff_ms': 2,
    'grpc.min_reconnect_backoff_ms': 2,
    'grpc.max_reconnect_backoff_ms': 5,
  });
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void exited.then(() => (gone = true));
  try {
    for (;;) {
      if (gone) throw new Error('the sidecar exited before it was SERVING (see bench/.build/logs)');
      if (Date.now() > deadline) throw new Error(`the sidecar was not SERVING within ${timeoutMs} ms`);
      const status = await new Promise<string | undefined>((resolve) => {
        client.Check!({ service: '' }, new grpc.Metadata(), { deadline: Date.now() + 1_000, waitForReady: true } as grpc.CallOptions, (err: unknown, res?: { status: string }) =>
          resolve(err ? undefined : res?.status),
        );
      });
      if (status === 'SERVING') return;
    }
  } finally {
    client.close();
  }
}

/** A Driver client on one channel (as the bridge has one ClientConn), without a receive size limit. */
export class SidecarClient {
  private readonly client: grpc.Client;

  constructor(target: string) {
    this.client = new DriverClient(target, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1 });
  }

  call<Res = any>(method: DriverMethod, request: object): Promise<Res> {
    const fn = (this.client as unknown as Record<string, Function>)[method]!;
    return new Promise<Res>((resolve, reject) => {
      fn.call(this.client, request, (err: grpc.ServiceError | null, res?: Res) => (err ? reject(new Error(`${method}: ${err.code} ${err.details}`)) : resolve(res as Res)));
    });
  }

  close(): void {
    this.client.close();
  }
}

/** The V8 heap of the sidecar as its own /metrics reports it (prom-client's default metrics), in MiB. */
export interface HeapBreakdown {
  totalMiB: number;
  usedMiB: number;
  externalMiB: number;
  /** Committed size per V8 heap space (new, old, code, large_object, …). */
  spacesMiB: Record<string, number>;
}

export async function heapBreakdown(httpUrl: string): Promise<HeapBreakdown> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^mcm_driver_${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20;
  const spacesMiB: Record<string, number> = {};
  for (const m of text.matchAll(/^mcm_driver_nodejs_heap_space_size_total_bytes\{space="([^"]+)"\} (\S+)/gm)) spacesMiB[m[1]!] = Number(m[2]) / 2 ** 20;
  return { totalMiB: value('nodejs_heap_size_total_bytes'), usedMiB: value('nodejs_heap_size_used_bytes'), externalMiB: value('nodejs_external_memory_bytes'), spacesMiB };
}
