// A stateful, in-process fake of the CloudSigma API 2.0 server and drive endpoints, plus the
// OAuth token endpoint and the service-provider impersonation endpoint, on node:http only.
// Usually driven through `prism proxy specs/cloudsigma.yaml` (test/support/prism.ts), which
// checks requests and responses against the spec while this fake keeps the state. Objects have
// owners, so impersonation and "403: exists but not yours" can be tested.
import { startFakeServer, type FakeResponse, type RouteRequest } from '../core/index.js';
import { apiError, writeResponse } from './http.js';
import { DEFAULT_USERS, FAKE_PARTNER, IMPERSONATE_PATH, Identity, TOKEN_PATH } from './identity.js';
import { handleApi, isApiPath } from './routes.js';
import { Store } from './state.js';
import type { CloudSigmaFake, CloudSigmaFakeOptions, FaultSpec, RecordedRequest } from './types.js';

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
    listingLag: options.listingLag,
  });
  const seedLibrary = () => store.seedDrive(null, { owner: null, uuid: LIBRARY_DRIVE, name: 'Ubuntu 24.04 LTS', size: LIBRARY_DRIVE_SIZE, storage_type: null });
  seedLibrary();
  const users = (options.users ?? DEFAULT_USERS).map((u) => ({ ...u }));
  const identity = new Identity(users, options.serviceProvider ?? FAKE_PARTNER, options.impersonatedTtlSeconds ?? 900);
  const routeContext = { store, users, maxPageSize: options.maxPageSize ?? 0 };

  function route({ method, url, query, req, body: parsed, record }: RouteRequest<RecordedRequest>): FakeResponse {
    const path = url.pathname;
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

  const core = await startFakeServer<RecordedRequest>({
    port: options.port,
    route,
    errorBody: (status, message) => apiError(status, message).body,
    write: writeResponse,
    // Keeps the scheme: a test can tell Basic from Bearer without seeing the credential.
    redactAuthorization: (value) => `${value.split(' ')[0]} <redacted>`,
  });
  const url = core.url;
  const ownerUuid = (email: string) => identity.user(email).uuid;

  return {
    url,
    apiUrl: `${url}/api/2.0/`,
    oauthUrl: url,
    impersonationUrl: `${url}${IMPERSONATE_PATH}`,
    users,
    user: (email) => identity.user(email),
    requests: core.requests,
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
    setTiming: (timing) => store.setTiming(timing),
    setListingLag: (lag) => store.listingLag.set(lag),
    setOutOfCapacity(gates) {
      store.outOfCapacity.clear();
      for (const g of gates) store.outOfCapacity.add(g);
    },
    share: (objectUuid, grantee, permissions) => store.grant(objectUuid, ownerUuid(grantee), permissions),
    get tokensIssued() {
      return { ...identity.issued };
    },
    injectFault: (f: FaultSpec) => core.faults.inject(f),
    clearFaults: () => core.faults.clear(),
    revokeTokens: () => identity.revokeAll(),
    issuedTokens: () => [...identity.issuedValues],
    reset() {
      store.reset(true);
      if (!store.drive(LIBRARY_DRIVE)) seedLibrary();
      core.reset();
      identity.resetCounters();
    },
    close: () => core.close(),
  };
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && Object.values(value).every((v) => typeof v === 'string');
}
