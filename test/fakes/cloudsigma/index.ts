// A stateful, in-process fake of the CloudSigma API 2.0 server and drive endpoints, plus the
// OAuth token endpoint and the service-provider impersonation endpoint, on node:http only.
// Usually driven through `prism proxy specs/cloudsigma.yaml` (test/support/prism.ts), which
// checks requests and responses against the spec while this fake keeps the state. Objects have
// owners, so impersonation and "403: exists but not yours" can be tested.
import { STATUS_CODES, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { echoOf, writeRaw, writeTruncated } from '../fault-responses.js';
import { FaultQueue } from './faults.js';
import { apiError, readBody, writeResponse, type FakeResponse } from './http.js';
import { DEFAULT_USERS, FAKE_PARTNER, IMPERSONATE_PATH, Identity, TOKEN_PATH } from './identity.js';
import { handleApi, isApiPath } from './routes.js';
import { Store } from './state.js';
import type { CloudSigmaFake, CloudSigmaFakeOptions, FaultSpec, RecordedRequest } from './types.js';
import { listenOnLoopback } from '../loopback-server.js';

export type * from './types.js';
export { DEFAULT_USERS, FAKE_PARTNER, IMPERSONATE_PATH, TOKEN_PATH } from './identity.js';

/** A library drive every fake has: "Ubuntu 24.04", 10 GiB. */
export const LIBRARY_DRIVE = 'c7105ec8-5d60-43a7-a11b-18dcfc1a4433';
export const LIBRARY_DRIVE_SIZE = 10 * 1024 ** 3;

export async function startCloudSigmaFake(options: CloudSigmaFakeOptions = {}): Promise<CloudSigmaFake> {
  const store = new Store({
    cloneAfterMs: options.cloneAfterMs ?? 50,
    runningAfterMs: options.runningAfterMs ?? 50,
    stoppedAfterMs: options.stoppedAfterMs ?? 50,
    deleteAfterMs: options.deleteAfterMs ?? 50,
    driveDeleteAfterMs: options.driveDeleteAfterMs ?? 50,
  });
  const seedLibrary = () => store.seedDrive(null, { owner: null, uuid: LIBRARY_DRIVE, name: 'Ubuntu 24.04 LTS', size: LIBRARY_DRIVE_SIZE, storage_type: null });
  seedLibrary();
  const users = (options.users ?? DEFAULT_USERS).map((u) => ({ ...u }));
  const identity = new Identity(users, options.serviceProvider ?? FAKE_PARTNER, options.impersonatedTtlSeconds ?? 900);
  const faults = new FaultQueue();
  const requests: RecordedRequest[] = [];
  const closing = new AbortController();
  const routeContext = { store, users, maxPageSize: options.maxPageSize ?? 0 };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake.invalid');
    const method = (req.method ?? 'GET').toUpperCase();
    const query = Object.fromEntries(url.searchParams);
    const record: RecordedRequest = { method, path: url.pathname, query, body: undefined, headers: recordHeaders(req) };
    requests.push(record);
    const raw = await readBody(req);
    const isForm = (req.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded');
    const parsed = parseBody(raw, isForm);
    record.body = parsed.value;

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
      const body = fault.echoRequest ? apiError(fault.status, echoOf(req, raw)).body : (fault.body ?? apiError(fault.status, STATUS_CODES[fault.status] ?? `HTTP ${fault.status}`).body);
      writeResponse(res, { status: fault.status, body, headers: fault.headers });
      return;
    }
    const response = route(method, url.pathname, query, req, parsed, record);
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

  function route(method: string, path: string, query: Record<string, string>, req: IncomingMessage, parsed: ParsedBody, record: RecordedRequest): FakeResponse {
    if (path === TOKEN_PATH) {
      if (method !== 'POST') return apiError(405, 'Method not allowed');
      const form = isStringRecord(parsed.value) ? parsed.value : {};
      return identity.tokenEndpoint(form, req.headers.authorization);
    }
    if (path === IMPERSONATE_PATH) {
      if (method !== 'POST') return apiError(405, 'Method not allowed');
      return identity.impersonate(parsed.value, req.headers.authorization);
    }
    if (!isApiPath(path)) return apiError(404, 'Not found');
    const user = identity.authenticate(req.headers.authorization);
    if (!user) return { ...apiError(401, 'Authentication credentials were not provided or are invalid'), headers: { 'www-authenticate': 'Basic realm="cloudsigma"' } };
    record.user = user.email;
    return handleApi(routeContext, { method, path, query, body: parsed.value, invalidJson: parsed.invalid, user });
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
  const ownerUuid = (email: string) => identity.user(email).uuid;

  return {
    url,
    apiUrl: `${url}/api/2.0/`,
    oauthUrl: url,
    impersonationUrl: `${url}${IMPERSONATE_PATH}`,
    users,
    user: (email) => identity.user(email),
    requests,
    servers: () => store.allServers(),
    drives: () => store.allDrives(),
    seedServer: (s) => store.seedServer(ownerUuid(s.owner), s),
    seedServers(count, make) {
      for (let i = 0; i < count; i++) {
        const s = make(i);
        store.seedServer(ownerUuid(s.owner), s);
      }
    },
    seedDrive: (d) => store.seedDrive(d.owner === null ? null : ownerUuid(d.owner), d),
    setServerStatus: (uuid, status) => store.setServerStatus(uuid, status),
    setDriveStatus: (uuid, status) => store.setDriveStatus(uuid, status),
    setOutOfCapacity(gates) {
      store.outOfCapacity.clear();
      for (const g of gates) store.outOfCapacity.add(g);
    },
    share: (objectUuid, grantee, permissions) => store.grant(objectUuid, ownerUuid(grantee), permissions),
    get tokensIssued() {
      return { ...identity.issued };
    },
    injectFault: (f: FaultSpec) => faults.inject(f),
    clearFaults: () => faults.clear(),
    revokeTokens: () => identity.revokeAll(),
    issuedTokens: () => [...identity.issuedValues],
    reset() {
      store.reset(true);
      if (!store.drive(LIBRARY_DRIVE)) seedLibrary();
      faults.clear();
      requests.length = 0;
      identity.resetCounters();
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
    const text = Array.isArray(value) ? value.join(', ') : value;
    headers[name] = name === 'authorization' ? `${text.split(' ')[0]} <redacted>` : text;
  }
  return headers;
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && Object.values(value).every((v) => typeof v === 'string');
}
