// The HTTP loop every stateful fake shares: record the request, read and parse the body, apply the
// fault queue (before the handler: delay, reset, raw body, error status; after it: a lost, cut or
// 5xx answer to a request that took effect), then write what the cloud's handler decided.
// Each fake supplies only its routes, its error body and its answer headers.
import { setMaxListeners } from 'node:events';
import { STATUS_CODES, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { echoOf, writeRaw, writeTruncated } from '../fault-responses.js';
import { listenOnLoopback } from '../loopback-server.js';
import { FaultQueue } from './fault-queue.js';
import type { FaultSpec } from './fault-spec.js';

/** What a handler decides; the core writes it (or drops it, for an `afterSuccess` fault). */
export interface FakeResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface CoreRecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string>;
  /** Parsed JSON, parsed form, the raw text if it did not parse, or undefined if empty. */
  body: unknown;
  /** Lower-case names; `authorization` redacted by the fake's own rule. */
  headers: Record<string, string>;
}

export interface ParsedBody {
  value: unknown;
  /** The body was present but did not parse as JSON. */
  invalid?: boolean;
  isForm: boolean;
}

export interface RouteRequest<R extends CoreRecordedRequest> {
  method: string;
  url: URL;
  query: Record<string, string>;
  req: IncomingMessage;
  body: ParsedBody;
  /** The recorded request, for a handler that adds to it (e.g. the user it authenticated). */
  record: R;
}

export interface FakeCloudDialect {
  /** The cloud's error body for a status and message. */
  errorBody(status: number, message: string): unknown;
  /** Writes an answer with the cloud's own headers (request id, content type). */
  write(res: ServerResponse, response: FakeResponse): void;
  /** What the recorded request keeps of an Authorization header. */
  redactAuthorization(value: string): string;
  /** Other headers that carry a credential (VPSie's `vpsie-auth`), lower-case: recorded as '<redacted>'. */
  secretHeaders?: string[];
}

export interface FakeServerOptions<R extends CoreRecordedRequest> extends FakeCloudDialect {
  route(request: RouteRequest<R>): FakeResponse | Promise<FakeResponse>;
  /** 127.0.0.1 only; default 0 = any free port. */
  port?: number;
  /** Every request is answered this long after it arrived (a slow cloud, for bench/). */
  latencyMs?: number;
}

export interface FakeServerCore<R extends CoreRecordedRequest> {
  url: string;
  /** Every request in arrival order. Emptied in place by reset: callers may hold the array. */
  requests: R[];
  faults: FaultQueue;
  /** Aborted by close(): nothing the fake waits for outlives it. */
  closing: AbortSignal;
  /** Forgets recorded requests and faults. */
  reset(): void;
  close(): Promise<void>;
}

export async function startFakeServer<R extends CoreRecordedRequest>(options: FakeServerOptions<R>): Promise<FakeServerCore<R>> {
  const faults = new FaultQueue();
  const requests: R[] = [];
  const closing = new AbortController();
  // Every delayed request listens for close(); many at once are expected, not a leak.
  setMaxListeners(0, closing.signal);
  const latencyMs = options.latencyMs ?? 0;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake.invalid');
    const method = (req.method ?? 'GET').toUpperCase();
    const query = Object.fromEntries(url.searchParams);
    const record = { method, path: url.pathname, query, body: undefined, headers: recordHeaders(req, options.redactAuthorization, options.secretHeaders ?? []) } as R;
    // Pushed before the body is read, so the order is arrival order even for slow uploads.
    requests.push(record);
    const raw = await readBody(req);
    const body = parseBody(raw, req.headers['content-type']);
    record.body = body.value;
    if (latencyMs > 0) await sleep(latencyMs, undefined, { signal: closing.signal });

    const fault = faults.take(method, url.pathname, query);
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
      const errorBody = fault.echoRequest || fault.body === undefined ? options.errorBody(fault.status, message) : fault.body;
      options.write(res, { status: fault.status, body: errorBody, headers: fault.headers });
      return;
    }

    const response = await options.route({ method, url, query, req, body, record });
    writeAfterSuccess(res, response, fault);
  }

  function writeAfterSuccess(res: ServerResponse, response: FakeResponse, fault: FaultSpec | undefined): void {
    const after = fault?.afterSuccess;
    if (after === 'drop') {
      res.socket?.destroy();
      return;
    }
    if (after === 'truncate') {
      writeTruncated(res, response.status, response.body, { ...response.headers, ...fault?.headers });
      return;
    }
    if (typeof after === 'object') {
      options.write(res, { status: after.status, body: options.errorBody(after.status, STATUS_CODES[after.status] ?? `HTTP ${after.status}`), headers: fault?.headers });
      return;
    }
    options.write(res, { ...response, headers: { ...response.headers, ...fault?.headers } });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (closing.signal.aborted) {
        req.socket.destroy();
        return;
      }
      if (!res.headersSent) options.write(res, { status: 500, body: options.errorBody(500, `internal server error: ${(err as Error).message}`) });
      else res.destroy();
    });
  });
  const { url } = await listenOnLoopback(server, options.port);

  return {
    url,
    requests,
    faults,
    closing: closing.signal,
    reset() {
      faults.clear();
      requests.length = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        closing.abort();
        server.close((err) => (err ? reject(err) : resolve()));
        // Keep-alive and in-flight connections too, so no socket outlives a test.
        server.closeAllConnections();
      }),
  };
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseBody(raw: string, contentType: string | undefined): ParsedBody {
  const isForm = (contentType ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded');
  if (raw === '') return { value: undefined, isForm };
  if (isForm) return { value: Object.fromEntries(new URLSearchParams(raw)), isForm };
  try {
    return { value: JSON.parse(raw), isForm };
  } catch {
    return { value: raw, invalid: true, isForm };
  }
}

function recordHeaders(req: IncomingMessage, redact: (value: string) => string, secretHeaders: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(', ') : value;
    headers[name] = name === 'authorization' ? redact(text) : secretHeaders.includes(name) ? '<redacted>' : text;
  }
  return headers;
}
