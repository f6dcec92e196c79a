// A stateful, in-process fake of the STACKIT IaaS v2 server endpoints and the service-account
// token endpoint, on node:http only. Usually driven through `prism proxy specs/stackit-iaas.yaml`
// (see test/support/prism.ts), which checks requests and responses against the spec while this
// fake supplies the state Prism's own mock cannot keep.
import { setMaxListeners } from 'node:events';
import { STATUS_CODES, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { echoOf, writeRaw, writeTruncated } from '../fault-responses.js';
import { FaultQueue } from './faults.js';
import { apiError, readBody, writeResponse, type FakeResponse } from './http.js';
import { handleIaas, isIaasPath } from './routes.js';
import { ServerStore } from './state.js';
import { TokenIssuer } from './token.js';
import type { FaultSpec, RecordedRequest, StackitFake, StackitFakeOptions } from './types.js';
import { listenOnLoopback } from '../loopback-server.js';

export type * from './types.js';

export async function startStackitFake(options: StackitFakeOptions = {}): Promise<StackitFake> {
  const store = new ServerStore({
    activeAfterMs: options.activeAfterMs ?? 50,
    deleteAfterMs: options.deleteAfterMs ?? 50,
  });
  const tokens = new TokenIssuer({
    staticTokens: options.staticTokens ?? ['fake-static-token'],
    trustedKeys: options.trustedKeys ?? [],
    ttlSeconds: options.tokenTtlSeconds ?? 3600,
  });
  const faults = new FaultQueue();
  const requests: RecordedRequest[] = [];
  // Aborts fault delays on close() so no timer outlives the fake.
  const closing = new AbortController();
  // Every delayed request listens for close(); many at once are expected, not a leak.
  setMaxListeners(0, closing.signal);
  const latencyMs = options.latencyMs ?? 0;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake.invalid');
    const method = (req.method ?? 'GET').toUpperCase();
    const record: RecordedRequest = {
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      body: undefined,
      headers: recordHeaders(req),
    };
    // Pushed before the body is read, so the order is arrival order even for slow uploads.
    requests.push(record);
    const rawBody = await readBody(req);
    const contentType = req.headers['content-type'];
    const isForm = contentType?.toLowerCase().startsWith('application/x-www-form-urlencoded') ?? false;
    const parsed = parseBody(rawBody, isForm);
    record.body = parsed.value;
    if (latencyMs > 0) await sleep(latencyMs, undefined, { signal: closing.signal });

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
      writeResponse(res, {
        status: fault.status,
        body: fault.echoRequest ? { code: fault.status, msg: echoOf(req, rawBody) } : (fault.body ?? { code: fault.status, msg: STATUS_CODES[fault.status] ?? `HTTP ${fault.status}` }),
        headers: fault.headers,
      });
      return;
    }

    const response = await route(method, url, req, parsed, isForm);
    if (fault?.afterSuccess === 'drop') {
      req.socket.destroy();
      return;
    }
    if (fault?.afterSuccess === 'truncate') {
      writeTruncated(res, response.status, response.body, { ...response.headers, ...fault.headers });
      return;
    }
    writeResponse(res, { ...response, headers: { ...response.headers, ...fault?.headers } });
  }

  async function route(
    method: string,
    url: URL,
    req: IncomingMessage,
    parsed: ParsedBody,
    isForm: boolean,
  ): Promise<FakeResponse> {
    if (url.pathname === '/token') {
      if (method !== 'POST') return apiError(405, 'method not allowed');
      const form = isForm && isStringRecord(parsed.value) ? parsed.value : {};
      return tokens.handle(req.headers['content-type'], form);
    }
    if (!isIaasPath(url.pathname)) return apiError(404, 'route not found');
    if (!tokens.isAccepted(bearerToken(req) ?? '')) return apiError(401, 'Unauthorized');
    const query = Object.fromEntries(url.searchParams);
    if (options.ignoreLabelSelector) delete query.label_selector;
    return handleIaas(store, {
      method,
      path: url.pathname,
      query,
      body: parsed.value,
      invalidJson: parsed.invalid,
    });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (closing.signal.aborted) {
        req.socket.destroy();
        return;
      }
      if (!res.headersSent) writeResponse(res, apiError(500, `internal server error: ${(err as Error).message}`));
      else res.destroy();
    });
  });
  const { url, sockets } = await listenOnLoopback(server, options.port);

  return {
    url,
    tokenUrl: `${url}/token`,
    requests,
    get tokensIssued() {
      return tokens.issuedCount;
    },
    servers: () => store.servers(),
    volumes: () => store.volumes(),
    seedServer: (s) => store.seed(s),
    setServerStatus: (id, status, errorMessage) => store.setStatus(id, status, errorMessage),
    injectFault: (f: FaultSpec) => faults.inject(f),
    clearFaults: () => faults.clear(),
    revokeTokens: () => tokens.revokeAll(),
    issuedTokens: () => [...tokens.issuedValues],
    reset() {
      store.reset();
      faults.clear();
      // Emptied in place: callers may hold a reference to the array.
      requests.length = 0;
      tokens.issuedCount = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        closing.abort();
        server.close((err) => (err ? reject(err) : resolve()));
        for (const socket of sockets) socket.destroy();
      }),
  };
}

interface ParsedBody {
  value: unknown;
  invalid?: boolean;
}

function parseBody(raw: string, isForm: boolean): ParsedBody {
  if (raw === '') return { value: undefined };
  if (isForm) return { value: Object.fromEntries(new URLSearchParams(raw)) };
  try {
    return { value: JSON.parse(raw) };
  } catch {
    return { value: raw, invalid: true };
  }
}

function recordHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[name] = name === 'authorization' ? '<redacted>' : Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

function bearerToken(req: IncomingMessage): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return match?.[1];
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && Object.values(value).every((v) => typeof v === 'string');
}
