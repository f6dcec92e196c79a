// A stateful, in-process fake of the VPSie endpoints the adapter uses (specs/vpsie.yaml), on the
// shared fake-server core (test/fakes/core: HTTP loop, fault queue, lost / cut / 5xx answers after
// the request took effect). A created VM is first invisible, then only in the pending view, then
// listed, then running, each after a configurable delay, so tests can make VPSie slower than a
// call; listings can lag that further (listing.ts). Usually driven through
// `prism proxy specs/vpsie.yaml` (test/support/vpsie-harness.ts).
import type { ServerResponse } from 'node:http';
import { startFakeServer, type FakeResponse, type RouteRequest } from '../core/index.js';
import { VpsieListing } from './listing.js';
import { handleApi, type RouteOptions } from './routes.js';
import { VpsieStore } from './state.js';
import type { FaultSpec, RecordedRequest, VpsieFake, VpsieFakeOptions, VpsieTiming } from './types.js';

export type * from './types.js';

export const FAKE_TOKEN = 'fake-vpsie-token';
export const FAKE_ACCOUNT_PASSWORD = 'fake-account-password';
const PREFIX = '/apps/v2';
/** VPSie's newest client sends VM calls here [sdk: vpsieinc/govpsie server.go serverBasePath]. */
const VM_PREFIX = '/api/v2';

export async function startVpsieFake(options: VpsieFakeOptions = {}): Promise<VpsieFake> {
  const initialTiming: VpsieTiming = {
    pendingAfterMs: options.pendingAfterMs ?? 0,
    visibleAfterMs: options.visibleAfterMs ?? 50,
    runningAfterMs: options.runningAfterMs ?? 50,
    deleteAfterMs: options.deleteAfterMs ?? 50,
    scriptVisibleAfterMs: options.scriptVisibleAfterMs ?? 0,
  };
  // The store reads this object on every create and read: setTiming changes it in place.
  const timing = { ...initialTiming };
  const store = new VpsieStore(timing);
  const listing = new VpsieListing(store, options.listingLag);
  const tokens = options.tokens ?? [FAKE_TOKEN];
  const routeOptions: RouteOptions = {
    accountPassword: options.accountPassword ?? FAKE_ACCOUNT_PASSWORD,
    rejectDuplicateHostnames: options.rejectDuplicateHostnames ?? false,
    notFoundStatus: options.notFoundStatus ?? 404,
    defaultPageSize: options.defaultPageSize,
    maxPageSize: options.maxPageSize ?? 1000,
    scriptListBodies: options.scriptListBodies ?? true,
    listing,
    outOfCapacity: options.outOfCapacity ?? false,
  };
  const transformNotes = options.transformNotes;
  if (transformNotes) store.transformNotes = transformNotes;
  const rate = options.rateLimitPerMinute === undefined ? undefined : new SlidingWindow(options.rateLimitPerMinute);

  function route({ method, url, query, req, body }: RouteRequest<RecordedRequest>): FakeResponse {
    listing.notice();
    const family = url.pathname.startsWith(`${PREFIX}/`) ? PREFIX : url.pathname.startsWith(`${VM_PREFIX}/`) ? VM_PREFIX : undefined;
    if (rate && !rate.take()) {
      // VPSie's throttling is [unconfirmed]; its autoscaler expects 429 [sdk: vpsie-k8s-autoscaler client.go IsRateLimited].
      return { status: 429, body: { error: true, code: 429, message: 'Too many requests' }, headers: { 'retry-after': '1' } };
    }
    if (!family) return { status: 404, body: { error: true, code: 404, message: 'route not found' } };
    if (!tokens.includes(String(req.headers['vpsie-auth'] ?? ''))) return { status: 401, body: { error: true, code: 401, message: 'Unauthorized' } };
    return handleApi(store, { method, family, path: url.pathname.slice(family.length), query, body: body.value, invalidJson: body.invalid }, routeOptions);
  }

  const core = await startFakeServer<RecordedRequest>({
    port: options.port,
    route,
    errorBody: (status, message) => ({ error: true, code: status, message }),
    write,
    // VPSie's credential travels in Vpsie-Auth [sdk: terraform-provider-vpsie provider.go], never in Authorization.
    redactAuthorization: () => '<redacted>',
    secretHeaders: ['vpsie-auth'],
  });

  return {
    url: core.url,
    apiUrl: `${core.url}${PREFIX}`,
    vmApiUrl: `${core.url}${VM_PREFIX}`,
    requests: core.requests,
    vms: () => store.all(),
    scripts: () => store.scripts(),
    seedVm: (v) => store.seed(v),
    seedPending: (p) => store.seedPending(p),
    seedScript: (s) => store.seedScript(s.name, s.script, s.tags ?? []),
    patchVm: (id, patch) => store.patch(id, patch),
    setVisibleAfterMs: (ms) => {
      timing.visibleAfterMs = ms;
    },
    setTiming: (t) => {
      for (const [key, value] of Object.entries(t) as Array<[keyof VpsieTiming, number | undefined]>) if (value !== undefined) timing[key] = value;
    },
    setListingLag: (lag) => listing.lag.set(lag),
    setOutOfCapacity: (on) => {
      routeOptions.outOfCapacity = on;
    },
    setListTotalExtra: (n) => {
      store.listTotalExtra = n;
    },
    injectFault: (f: FaultSpec) => core.faults.inject(f),
    clearFaults: () => core.faults.clear(),
    reset() {
      store.reset();
      listing.reset();
      Object.assign(timing, initialTiming);
      routeOptions.outOfCapacity = options.outOfCapacity ?? false;
      core.reset();
    },
    close: () => core.close(),
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

function write(res: ServerResponse, response: FakeResponse): void {
  const payload = response.body === undefined ? '' : JSON.stringify(response.body);
  res.writeHead(response.status, {
    'content-type': 'application/json',
    ...(payload === '' ? {} : { 'content-length': Buffer.byteLength(payload).toString() }),
    ...response.headers,
  });
  res.end(payload);
}
