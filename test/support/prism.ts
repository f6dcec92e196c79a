// Starts Stoplight Prism (node_modules/.bin/prism, 5.14.2: the newest release that runs on
// Node 20) as a child process on 127.0.0.1, for contract checks of the adapters:
//   - proxy mode in front of a stateful fake: Prism validates requests and responses against
//     the spec; with --errors an invalid request gets a 422 (a missing credential a 401) and an
//     invalid response a 500 problem+json instead of being forwarded;
//   - mock mode: stateless example responses.
import { spawn, type ChildProcess } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface PrismProcess {
  url: string;
  close(): Promise<void>;
}

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PRISM_BIN = resolve(REPO_ROOT, 'node_modules', '.bin', 'prism');
const STARTUP_TIMEOUT_MS = 30_000;
const PORT_ATTEMPTS = 3;

/** The STACKIT spec under test: $STACKIT_SPEC (CI points it at the vendor document) or our own subset. */
export const STACKIT_SPEC: string = process.env.STACKIT_SPEC || resolve(REPO_ROOT, 'specs', 'stackit-iaas.yaml');

export async function startPrismProxy(specPath: string, upstreamUrl: string): Promise<PrismProcess> {
  return startPrism((port) => ['proxy', specPath, upstreamUrl, '--errors', '-h', '127.0.0.1', '-p', String(port)]);
}

export async function startPrismMock(specPath: string): Promise<PrismProcess> {
  return startPrism((port) => ['mock', specPath, '-h', '127.0.0.1', '-p', String(port)]);
}

// ---- process lifecycle ----

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort for a test that forgot close(): 'exit' handlers must be synchronous, and kill() is.
  process.on('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

// If this process dies without running its 'exit' handlers (SIGKILL, a jest worker torn down),
// the child notices that it has been re-parented and exits. It runs the same Prism entry script
// that node_modules/.bin/prism links to.
const ORPHAN_WATCHDOG = [
  'const parent = process.ppid;',
  'setInterval(() => { if (process.ppid !== parent) process.exit(0); }, 1000).unref();',
  'require(process.argv[1]);',
].join('\n');

async function startPrism(argsForPort: (port: number) => string[]): Promise<PrismProcess> {
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    // The port can be taken between probing and Prism's listen(); then Prism exits and we retry.
    const port = await freePort();
    try {
      return await launch(port, argsForPort(port));
    } catch (err) {
      lastError = err as Error;
      if (!/EADDRINUSE/.test(lastError.message)) throw lastError;
    }
  }
  throw lastError;
}

async function launch(port: number, args: string[]): Promise<PrismProcess> {
  installExitHook();
  const entry = realpathSync(PRISM_BIN);
  const child = spawn(process.execPath, ['-e', ORPHAN_WATCHDOG, entry, ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
  });
  running.add(child);
  const output = new OutputTail();
  child.stdout!.on('data', (chunk: Buffer) => output.add(chunk));
  child.stderr!.on('data', (chunk: Buffer) => output.add(chunk));

  let exitInfo: string | undefined;
  const exited = new Promise<void>((resolveExit) => {
    child.once('exit', (code, signal) => {
      exitInfo = `code ${code ?? 'null'}, signal ${signal ?? 'none'}`;
      running.delete(child);
      resolveExit();
    });
  });

  const url = `http://127.0.0.1:${port}`;
  const close = async (): Promise<void> => {
    if (exitInfo === undefined) {
      child.kill('SIGTERM');
      const forced = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(forced);
    }
  };

  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (true) {
    if (exitInfo !== undefined) {
      throw new Error(`prism ${args[0]} exited during startup (${exitInfo}):\n${output.text()}`);
    }
    // Our Prism's own "listening" line first: another jest worker's Prism can hold the same probed port
    // (then ours exits EADDRINUSE), and the probe alone would hand this file the other file's Prism and fake.
    if (output.text().includes(`Prism is listening on ${url}`) && (await answers(url))) return { url, close };
    if (Date.now() > deadline) {
      await close();
      throw new Error(`prism ${args[0]} did not answer on ${url} within ${STARTUP_TIMEOUT_MS} ms:\n${output.text()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Any HTTP answer counts: Prism replies 404 problem+json to a path outside the spec. */
function answers(url: string): Promise<boolean> {
  return new Promise((resolveAnswer) => {
    const req = request(`${url}/__prism_ready`, { method: 'GET', timeout: 1_000 }, (res) => {
      res.resume();
      resolveAnswer(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolveAnswer(false));
    req.end();
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => r());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** Keeps the last 64 KiB of Prism's output for error messages (its log is verbose). */
class OutputTail {
  private chunks: Buffer[] = [];
  private size = 0;

  add(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > 64 * 1024 && this.chunks.length > 1) this.size -= this.chunks.shift()!.length;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}
