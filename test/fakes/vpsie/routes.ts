// The endpoints of specs/vpsie.yaml on top of VpsieStore, answering the way VPSie's Go clients
// expect: `{"error": false, ...}` wrappers, and `{"error": true, "code", "message"}` on failure.
// Where VPSie's behaviour is [unconfirmed] the fake picks one plausible answer and says so.
import type { FakeResponse } from '../core/index.js';
import type { VpsieListing } from './listing.js';
import type { VpsieStore } from './state.js';
import { sqlTime } from './state.js';
import type { FakeVm } from './types.js';

export type { FakeResponse } from '../core/index.js';

export interface ApiRequest {
  method: string;
  /** Path below the family prefix, e.g. /vm/pending. */
  path: string;
  /** `/api/v2` (VM calls of VPSie's newest client) or `/apps/v2` (everything, older VM path). */
  family: '/api/v2' | '/apps/v2';
  query: Record<string, string>;
  body: unknown;
  invalidJson?: boolean;
}

export function apiError(status: number, message: string, httpStatus = status): FakeResponse {
  return { status: httpStatus, body: { error: true, code: status, message, stack: '' } };
}

/** HTTP 200 with an error body, as VPSie sometimes answers [sdk: 2026 client fix 8fbed0d]. */
export function errorBody200(message: string, code?: number): FakeResponse {
  return { status: 200, body: { error: true, ...(code === undefined ? {} : { code }), message } };
}

const FLAGS = ['addPublicIpV4', 'addPublicIpV6', 'addPrivateIp', 'backupEnabled', 'weeklyBackupEnabled', 'monthlyBackupEnabled'];

export interface RouteOptions {
  accountPassword: string;
  rejectDuplicateHostnames: boolean;
  /** Status of the "not found" answer for an unknown VM or script (VPSie's clients read only the message). */
  notFoundStatus: number;
  /** Rows of a list page when the request names no `limit` (undefined: all). */
  defaultPageSize?: number;
  /** Largest page the fake serves, whatever `limit` asks. */
  maxPageSize: number;
  /** false: the script list leaves out each script's body (only GET /script/{id} has it). */
  scriptListBodies: boolean;
  /** GET /vm and GET /vm/pending as lagging listings show them (listing.ts). */
  listing: VpsieListing;
  /** Creates are refused for lack of capacity (VpsieFake.setOutOfCapacity). */
  outOfCapacity: boolean;
}

/**
 * One page of a list: `offset`/`limit` as VPSie's other lists take them [sdk: vpsieinc/govpsie
 * storage.go `storages?offset=%d&limit…`, datacenter.go, domain.go; vpsieinc/vpsie-csi
 * pkg/driver/controller.go asks PerPage 1000]. govpsie's VM list (server.go ListServer) and script
 * list (scripts.go GetScripts) send no paging parameters, so whether /vm and /scripts page by
 * default, and their largest page, are [unconfirmed]: options. `offset` counts rows here; govpsie
 * fills it from ListOptions.Page, so it may be a page number on the real API [unconfirmed].
 */
function page<T>(rows: T[], query: Record<string, string>, options: RouteOptions): T[] {
  const offset = Math.max(0, Number.parseInt(query.offset ?? '0', 10) || 0);
  const asked = query.limit === undefined ? options.defaultPageSize : Number.parseInt(query.limit, 10) || options.defaultPageSize;
  const size = Math.min(asked ?? rows.length, options.maxPageSize);
  return rows.slice(offset, offset + size);
}

/** VPSie's clients never read an error's status, only its message [sdk: govpsie govpsie.go Do; terraform-provider-vpsie server_resource.go Read keys on "not found"]. */
function notFound(what: string, options: RouteOptions): FakeResponse {
  return apiError(options.notFoundStatus, `${what} not found`);
}

export function handleApi(store: VpsieStore, req: ApiRequest, options: RouteOptions): FakeResponse {
  if (req.invalidJson) return apiError(400, 'invalid JSON body');
  const { method, path } = req;
  // VM calls live under both prefixes [sdk: govpsie server.go /api/v2/vm; terraform-provider-vpsie via govpsie 2024 /apps/v2/vm];
  // the pending view and scripts only under /apps/v2 [sdk: govpsie pending.go, scripts.go].
  if (path === '/vm' && method === 'GET') return listVms(store, req.query, options);
  if (path === '/vm' && method === 'POST') return createVm(store, req.body, options, req.family);
  if (path === '/vm' && method === 'DELETE') return deleteVm(store, req.body, options);
  if (req.family === '/api/v2' && path !== '/vm' && !/^\/vm\/(?!pending$)[^/]+$/.test(path)) return apiError(404, 'route not found');
  if (path === '/vm/pending' && method === 'GET') return { status: 200, body: { error: false, data: options.listing.pending().map(pendingView) } };
  const vmMatch = /^\/vm\/([^/]+)$/.exec(path);
  if (vmMatch && method === 'GET') return getVm(store, decodeURIComponent(vmMatch[1]!), options);
  if (path === '/script/add' && method === 'POST') return addScript(store, req.body);
  if (path === '/scripts' && method === 'GET') {
    const all = store.listScripts().map(({ visibleAtMs: _v, scriptType: _t, tags: _g, script, ...s }) => ({
      ...s,
      ...(options.scriptListBodies ? { script } : {}),
      user_id: 1,
      box_id: null,
      box_identifier: null,
      created_by: 'api',
    }));
    return { status: 200, body: { error: false, data: page(all, req.query, options), total: all.length } };
  }
  const scriptMatch = /^\/script\/([^/]+)$/.exec(path);
  if (scriptMatch && scriptMatch[1] !== 'add' && method === 'GET') {
    // GET /apps/v2/script/{id} → ScriptDetail [sdk: govpsie scripts.go GetScript].
    const s = store.findScript(decodeURIComponent(scriptMatch[1]!));
    if (!s) return notFound('Script', options);
    return { status: 200, body: { error: false, data: { id: 1, identifier: s.identifier, name: s.script_name.replace(/\.sh$/, ''), script_name: s.script_name, script: s.script, type: s.scriptType, created_on: s.created_on } } };
  }
  if (path === '/script' && method === 'DELETE') {
    const id = (req.body as { scriptIdentifier?: unknown } | undefined)?.scriptIdentifier;
    if (typeof id !== 'string') return apiError(400, 'scriptIdentifier is required');
    return store.deleteScript(id) ? { status: 200, body: { error: false, message: 'Script deleted' } } : notFound('Script', options);
  }
  return apiError(404, 'route not found');
}

function listVms(store: VpsieStore, query: Record<string, string>, options: RouteOptions): FakeResponse {
  const all = options.listing.list(query.projectId);
  // What `total` counts is [unconfirmed]: setListTotalExtra makes it larger than the rows (other projects, deleted VMs...).
  // Only the page's rows are rendered: rendering all of them for each page made a 50,000-VM listing (50 pages) quadratic in the fake.
  return { status: 200, body: { error: false, data: page(all, query, options).map(vmView), total: all.length + store.listTotalExtra } };
}

function getVm(store: VpsieStore, identifier: string, options: RouteOptions): FakeResponse {
  const vm = store.find(identifier);
  // The status of this answer is [unconfirmed]; VPSie's clients read only its message (notFound).
  if (!vm) return notFound('VM', options);
  // Tags come only here [sdk: vpsieinc/govpsie server.go ListServerByIdentifierRoot.Data.VmTags]; listed rows
  // (VmData) carry none. govpsie declares VmTags as an empty struct, so the item shape `{tag}` is [unconfirmed]
  // (the adapter reads a string or a `name`/`tag`/`value` field).
  return { status: 200, body: { error: false, data: { vmData: vmView(vm), vmTags: vm.tags.map((t) => ({ tag: t })), privateIpData: [], floatingIpData: [] } } };
}

function createVm(store: VpsieStore, body: unknown, options: RouteOptions, family: ApiRequest['family']): FakeResponse {
  if (!isObject(body)) return apiError(400, 'request body must be an object');
  for (const field of ['resourceIdentifier', 'osIdentifier', 'dcIdentifier', 'hostname']) {
    if (typeof body[field] !== 'string' || body[field] === '') return apiError(400, `${field} is required`);
  }
  const projectId = body.projectId;
  if (!(typeof projectId === 'string' && projectId !== '') && !(typeof projectId === 'number' && projectId > 0)) {
    return apiError(400, 'projectId is required');
  }
  const hostname = body.hostname as string;
  if (options.rejectDuplicateHostnames && store.hostnameTaken(hostname)) {
    return errorBody200(`Hostname ${hostname} already exists`);
  }
  if (typeof body.scriptIdentifier === 'string' && !store.findScript(body.scriptIdentifier)) {
    return errorBody200('Script not found', 404);
  }
  if (body.userData !== undefined && (typeof body.userData !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(body.userData))) {
    return apiError(400, 'userData must be base64');
  }
  if (options.outOfCapacity) return noCapacity(body.dcIdentifier as string);
  // /api/v2/vm ignores numeric 0/1 [sdk: govpsie commit 4022865]: only strings count there.
  // /apps/v2/vm is sent numbers by every client that uses it [sdk: terraform-provider-vpsie ValueInt64Pointer(),
  // cluster-api-provider-vpsie AddPublicIpV4: 1]: the fake honours only numbers there. Stored as "0"/"1".
  const flags: Record<string, string> = {};
  for (const f of FLAGS) {
    const v = body[f];
    if (family === '/api/v2' && (v === '0' || v === '1')) flags[f] = v;
    if (family === '/apps/v2' && (v === 0 || v === 1)) flags[f] = String(v);
  }
  const vm = store.create({
    hostname,
    projectId: projectId as string | number,
    dcIdentifier: body.dcIdentifier as string,
    resourceIdentifier: body.resourceIdentifier as string,
    osIdentifier: body.osIdentifier as string,
    notes: typeof body.notes === 'string' ? body.notes : undefined,
    tags: Array.isArray(body.tags) ? body.tags.filter((t): t is string => typeof t === 'string') : [],
    sshKeyIdentifier: typeof body.sshKeyIdentifier === 'string' ? body.sshKeyIdentifier : undefined,
    scriptIdentifier: typeof body.scriptIdentifier === 'string' ? body.scriptIdentifier : undefined,
    userData: typeof body.userData === 'string' ? body.userData : undefined,
    ssd: typeof body.ssd === 'number' ? body.ssd : undefined,
    flags,
  });
  options.listing.created(vm);
  // The real answer's body is [unconfirmed]; no client reads an id from it [sdk].
  return { status: 200, body: { error: false, message: 'VM creation started' } };
}

/**
 * No room for the VM: VPSie documents no capacity error, so its wording and status are [unconfirmed].
 * The fake answers the way VPSie answers other refusals its clients must read from the body, HTTP 200
 * with `error: true` [sdk: 2026 client fix 8fbed0d], and nothing is created.
 */
function noCapacity(dcIdentifier: string): FakeResponse {
  return errorBody200(`No capacity available in datacenter ${dcIdentifier} for this plan`);
}

function deleteVm(store: VpsieStore, body: unknown, options: RouteOptions): FakeResponse {
  if (!isObject(body) || typeof body.vmIdentifier !== 'string') return apiError(400, 'vmIdentifier is required');
  const stat = body.deleteStatistic as { reason?: unknown } | undefined;
  if (typeof stat?.reason !== 'string' || stat.reason === '') return apiError(400, 'deleteStatistic.reason is required');
  // A wrong password answered with HTTP 200 and an error body: one [unconfirmed] guess at VPSie's habit.
  if (body.password !== options.accountPassword) return errorBody200('Invalid password');
  return store.requestDelete(body.vmIdentifier) ? { status: 200, body: { error: false, message: 'VM deleted' } } : notFound('VM', options);
}

function addScript(store: VpsieStore, body: unknown): FakeResponse {
  if (!isObject(body)) return apiError(400, 'request body must be an object');
  if (typeof body.name !== 'string' || body.name === '') return apiError(400, 'name is required');
  if (typeof body.scriptContent !== 'string' || body.scriptContent === '') return apiError(400, 'scriptContent is required');
  if (body.scriptType !== 'bash') return apiError(400, 'scriptType must be bash');
  const tags = Array.isArray(body.tags) ? body.tags.filter((t): t is string => typeof t === 'string') : [];
  store.addScript(body.name, body.scriptContent, body.scriptType, tags);
  return { status: 200, body: { error: false, message: 'Script added' } };
}

/** VmData as the Go clients read it; 0/1 flags are integers. */
export function vmView(vm: FakeVm): Record<string, unknown> {
  const running = vm.phase === 'running';
  const out: Record<string, unknown> = {
    id: vm.id,
    identifier: vm.identifier,
    hostname: vm.hostname,
    notes: vm.notes ?? null,
    default_ip: vm.default_ip ?? null,
    default_ipv6: vm.default_ipv6 ?? null,
    private_ip: vm.private_ip,
    power: running ? 1 : 0,
    is_active: running || vm.phase === 'deleting' ? 1 : 0,
    is_suspended: vm.is_suspended,
    is_terminated: vm.is_terminated,
    is_deleted: vm.is_deleted,
    is_locked: vm.phase === 'deleting' ? 1 : 0,
    dcIdentifier: vm.dcIdentifier,
    created_on: sqlTime(vm.createdAtMs),
    // The list looks joined with datacenter columns: `state` is geographic [unconfirmed].
    state: 'NY',
  };
  const numeric = Number(vm.projectId);
  if (Number.isInteger(numeric)) out.project_id = numeric;
  return out;
}

function pendingView(p: { id: string; hostname: string; projectId: string | number; tags: unknown[]; processId: string }) {
  return { id: p.id, running: 1, type: 'vm', data: { hostname: p.hostname, projectId: p.projectId, tags: p.tags, processId: p.processId } };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
