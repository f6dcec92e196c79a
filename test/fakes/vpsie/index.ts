// A stateful, in-process fake of the VPSie endpoints the adapter uses (specs/vpsie.yaml), on
// node:http only. A created VM is first invisible, then only in the pending view, then listed,
// then running, each after a configurable delay, so tests can make VPSie slower than a call.
// Usually driven through `prism proxy specs/vpsie.yaml` (test/support/vpsie-harness.ts).
import { STATUS_CODES, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { echoOf, writeRaw, writeTruncated } from '../fault-responses.js';
import { handleApi, type FakeResponse } from './routes.js';
import { VpsieStore } from './state.js';
import type { FaultSpec, RecordedRequest, VpsieFake, VpsieFakeOptions } from './types.js';
import { listenOnLoopback } from '../loopback-server.js';

export type * from './types.js';

export const FAKE_TOKEN = 'fake-vpsie-token';
export const FAKE_ACCOUNT_PASSWORD = 'fake-account-password';
const PREFIX = '/apps/v2';
/** VPSie's newest client sends VM calls here [sdk: vpsieinc/govpsie server.go serverBasePath]. */
const VM_PREFIX = '/api/v2';

export async function startVpsieFake(options: VpsieFakeOptions = {}): Promise<VpsieFake> {
  const timing = {
    pendingAfterMs: options.pendingAfterMs ?? 0,
    visibleAfterMs: options.visibleAfterMs ?? 50,
    runningAfterMs: options.runningAfterMs ?? 50,
    deleteAfterMs: options.deleteAfterMs ?? 50,
    scriptVisibleAfterMs: options.scriptVisibleAfterMs ?? 0,
  };
  const store = new VpsieStore(timing);
  const tokens = options.tokens ?? [FAKE_TOKEN];
  const routeOptions = {
    accountPassword: options.accountPassword ?? FAKE_ACCOUNT_PASSWORD,
    rejectDuplicateHostnames: options.rejectDuplicateHostnames ?? false,
    notFoundStatus: options.notFoundStatus ?? 404,
    defaultPageSize: options.defaultPageSize,
    maxPageSize: options.maxPageSize ?? 1000,
    scriptListBodies: options.scriptListBodies ?? true,
  };
  const transformNotes = options.transformNotes;
  if (transformNotes) store.transformNotes = transformNotes;
  const rate = options.rateLimitPerMinute === undefined ? undefined : new SlidingWindow(options.rateLimitPerMinute);
  const faults = new FaultQueue();
  const requests: RecordedRequest[] = [];
  const closing = new AbortController();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake.invalid');
    const method = (req.method ?? 'GET').toUpperCase();
    const record: RecordedRequest = { method, path: url.pathname, query: Object.fromEntries(url.searchParams), body: undefined, headers: recordHeaders(req) };
    requests.push(record);
    const raw = await readBody(req);
    let body: unknown;
    let invalidJson = false;
    if (raw !== '') {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
        invalidJson = true;
      }
    }
    record.body = body;

    const fault = faults.take(method, url.pathname);
    if (fault?.delayMs) await sleep(fault.delayMs, undefined, { signal: closing.signal });
    if (fault?.reset) {
      req.socket.destroy();
      return;
    }
    if (fault?.rawBody !== undefined) {
      writeRaw(res, fault.status ?? 200, fault.rawBody, fault.headers);
      return;
    }
    if (fault?.status !== undefined) {
      const message = fault.echoRequest ? echoOf(req, raw) : STATUS_CODES[fault.status] ?? `HTTP ${fault.status}`;
      write(res, { status: fault.status, body: fault.echoRequest ? { error: true, code: fault.status, message } : (fault.body ?? { error: true, code: fault.status, message }), headers: fault.headers });
      return;
    }
    let response: FakeResponse;
    const family = url.pathname.startsWith(`${PREFIX}/`) ? PREFIX : url.pathname.startsWith(`${VM_PREFIX}/`) ? VM_PREFIX : undefined;
    if (rate && !rate.take()) {
      // VPSie's throttling is [unconfirmed]; its autoscaler expects 429 [sdk: vpsie-k8s-autoscaler client.go IsRateLimited].
      write(res, { status: 429, body: { error: true, code: 429, message: 'Too many requests' }, headers: { 'retry-after': '1' } });
      return;
    }
    if (!family) response = { status: 404, body: { error: true, code: 404, message: 'route not found' } };
    else if (!tokens.includes(String(req.headers['vpsie-auth'] ?? ''))) response = { status: 401, body: { error: true, code: 401, message: 'Unauthorized' } };
    else response = handleApi(store, { method, family, path: url.pathname.slice(family.length), query: Object.fromEntries(url.searchParams), body, invalidJson }, routeOptions);
    if (fault?.afterSuccess === 'drop') {
      req.socket.destroy();
      return;
    }
    if (fault?.afterSuccess === 'truncate') {
      writeTruncated(res, response.status, response.body, { ...response.headers, ...fault.headers });
      return;
    }
    write(res, { ...response, headers: { ...response.headers, ...fault?.headers } });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (closing.signal.aborted) {
        req.socket.destroy();
        return;
      }
      if (!res.headersSent) write(res, { status: 500, body: { error: true, code: 500, message: `internal error: ${(err as Error).message}` } });
      else res.destroy();
    });
  });
  const { url, sockets } = await listenOnLoopback(server, options.port);

  return {
    url,
    apiUrl: `${url}${PREFIX}`,
    vmApiUrl: `${url}${VM_PREFIX}`,
    requests,
    vms: () => store.all(),
    scripts: () => store.scripts(),
    seedVm: (v) => store.seed(v),
    seedPending: (p) => store.seedPending(p),
    seedScript: (s) => store.seedScript(s.name, s.script, s.tags ?? []),
    patchVm: (id, patch) => store.patch(id, patch),
    setVisibleAfterMs: (ms) => {
      timing.visibleAfterMs = ms;
    },
    setListTotalExtra: (n) => {
      store.listTotalExtra = n;
    },
    injectFault: (f) => faults.inject(f),
    clearFaults: () => faults.clear(),
    reset() {
      store.reset();
      faults.clear();
      requests.length = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        closing.abort();
        server.close((err) => (err ? reject(err) : resolve()));
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/** Requests allowed in any 60-second window. */
class SlidingWindow {
  private readonly times: number[] = [];
  constructor(private readonly perMinute: number) {}
  take(): boolean {
    const now = Date.now();
    while (this.times.length > 0 && now - this.times[0]! >= 60_000) this.times.shift();
    if (this.times.length >= this.perMinute) return false;
    this.times.push(now);
    return true;
  }
}

/** Injected failures, consumed first-registered-first by the requests they match. */
class FaultQueue {
  private armed: Array<{ spec: FaultSpec; remaining: number }> = [];

  inject(spec: FaultSpec): void {
    const remaining = spec.times ?? 1;
    if (!Number.isInteger(remaining) || remaining < 1) throw new Error('FaultSpec.times must be a positive integer');
    this.armed.push({ spec, remaining });
  }

  clear(): void {
    this.armed = [];
  }

  take(method: string, path: string): FaultSpec | undefined {
    const fault = this.armed.find(({ spec }) => {
      if (spec.method !== undefined && spec.method.toUpperCase() !== method) return false;
      if (spec.path === undefined) return true;
      spec.path.lastIndex = 0;
      return spec.path.test(path);
    });
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining === 0) this.armed = this.armed.filter((f) => f !== fault);
    return fault.spec;
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function write(res: ServerResponse, response: FakeResponse): void {
  const payload = response.body === undefined ? '' : JSON.stringify(response.body);
  res.writeHead(response.status, {
    'content-type': 'application/json',
    ...(payload === '' ? {} : { 'content-length': Buffer.byteLength(payload).toString() }),
    ...response.headers,
  });
  res.end(payload);
}

function recordHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[name] = name === 'vpsie-auth' ? '<redacted>' : Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}
