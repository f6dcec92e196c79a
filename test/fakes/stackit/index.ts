// A stateful, in-process fake of the STACKIT IaaS v2 server endpoints and the service-account
// token endpoint, on the shared fake-server core (test/fakes/core). Usually driven through
// `prism proxy specs/stackit-iaas.yaml` (see test/support/prism.ts), which checks requests and
// responses against the spec while this fake supplies the state Prism's own mock cannot keep.
import { startFakeServer, type FakeResponse, type RouteRequest } from '../core/index.js';
import { apiError, writeResponse } from './http.js';
import { handleIaas, isIaasPath } from './routes.js';
import { ServerStore } from './state.js';
import { TokenIssuer } from './token.js';
import type { FaultSpec, RecordedRequest, StackitFake, StackitFakeOptions } from './types.js';

export type * from './types.js';

export async function startStackitFake(options: StackitFakeOptions = {}): Promise<StackitFake> {
  const store = new ServerStore({
    activeAfterMs: options.activeAfterMs ?? 50,
    deleteAfterMs: options.deleteAfterMs ?? 50,
    listingLag: options.listingLag,
  });
  const tokens = new TokenIssuer({
    staticTokens: options.staticTokens ?? ['fake-static-token'],
    trustedKeys: options.trustedKeys ?? [],
    ttlSeconds: options.tokenTtlSeconds ?? 3600,
  });
  if (options.outOfCapacity) store.outOfCapacity = true;

  function route({ method, url, query, req, body }: RouteRequest<RecordedRequest>): FakeResponse | Promise<FakeResponse> {
    if (url.pathname === '/token') {
      if (method !== 'POST') return apiError(405, 'method not allowed');
      const form = body.isForm && isStringRecord(body.value) ? body.value : {};
      return tokens.handle(req.headers['content-type'], form);
    }
    if (!isIaasPath(url.pathname)) return apiError(404, 'route not found');
    if (!tokens.isAccepted(bearerToken(req.headers.authorization) ?? '')) return apiError(401, 'Unauthorized');
    const iaasQuery = { ...query };
    if (options.ignoreLabelSelector) delete iaasQuery.label_selector;
    return handleIaas(store, { method, path: url.pathname, query: iaasQuery, body: body.value, invalidJson: body.invalid });
  }

  const core = await startFakeServer<RecordedRequest>({
    port: options.port,
    latencyMs: options.latencyMs,
    route,
    errorBody: (status, msg) => ({ code: status, msg }),
    write: writeResponse,
    redactAuthorization: () => '<redacted>',
  });

  return {
    url: core.url,
    tokenUrl: `${core.url}/token`,
    requests: core.requests,
    get tokensIssued() {
      return tokens.issuedCount;
    },
    servers: () => store.servers(),
    volumes: () => store.volumes(),
    seedServer: (s) => store.seed(s),
    setServerStatus: (id, status, errorMessage) => store.setStatus(id, status, errorMessage),
    setTiming: (timing) => store.setTiming(timing),
    setListingLag: (lag) => store.listingLag.set(lag),
    setOutOfCapacity: (on) => {
      store.outOfCapacity = on;
    },
    injectFault: (f: FaultSpec) => core.faults.inject(f),
    clearFaults: () => core.faults.clear(),
    revokeTokens: () => tokens.revokeAll(),
    issuedTokens: () => [...tokens.issuedValues],
    reset() {
      store.reset();
      core.reset();
      tokens.issuedCount = 0;
    },
    close: () => core.close(),
  };
}

function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return match?.[1];
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && Object.values(value).every((v) => typeof v === 'string');
}
