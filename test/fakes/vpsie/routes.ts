// The endpoints of specs/vpsie.yaml on top of VpsieStore, answering the way VPSie's Go clients
// expect: `{"error": false, ...}` wrappers, and `{"error": true, "code", "message"}` on failure.
// Where VPSie's behaviour is [unconfirmed] the fake picks one plausible answer and says so.
import type { VpsieStore } from './state.js';
import { sqlTime } from './state.js';
import type { FakeVm } from './types.js';

export interface FakeResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface ApiRequest {
  method: string;
  /** Path below /apps/v2, e.g. /vm/pending. */
  path: string;
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
}

export function handleApi(store: VpsieStore, req: ApiRequest, options: RouteOptions): FakeResponse {
  if (req.invalidJson) return apiError(400, 'invalid JSON body');
  const { method, path } = req;
  if (path === '/vm' && method === 'GET') return listVms(store, req.query.projectId);
  if (path === '/vm' && method === 'POST') return createVm(store, req.body, options);
  if (path === '/vm' && method === 'DELETE') return deleteVm(store, req.body, options);
  if (path === '/vm/pending' && method === 'GET') return { status: 200, body: { error: false, data: store.pending().map(pendingView) } };
  const vmMatch = /^\/vm\/([^/]+)$/.exec(path);
  if (vmMatch && method === 'GET') return getVm(store, decodeURIComponent(vmMatch[1]!));
  if (path === '/script/add' && method === 'POST') return addScript(store, req.body);
  if (path === '/scripts' && method === 'GET') {
    const data = store.listScripts().map(({ visibleAtMs: _v, scriptType: _t, tags: _g, ...s }) => ({ ...s, user_id: 1, box_id: null, box_identifier: null, created_by: 'api' }));
    return { status: 200, body: { error: false, data, total: data.length } };
  }
  if (path === '/script' && method === 'DELETE') {
    const id = (req.body as { scriptIdentifier?: unknown } | undefined)?.scriptIdentifier;
    if (typeof id !== 'string') return apiError(400, 'scriptIdentifier is required');
    return store.deleteScript(id) ? { status: 200, body: { error: false, message: 'Script deleted' } } : apiError(404, 'Script not found');
  }
  return apiError(404, 'route not found');
}

function listVms(store: VpsieStore, projectId: string | undefined): FakeResponse {
  const data = store.list(projectId).map(vmView);
  return { status: 200, body: { error: false, data, total: data.length + store.listTotalExtra } };
}

function getVm(store: VpsieStore, identifier: string): FakeResponse {
  const vm = store.find(identifier);
  // How VPSie answers an unknown identifier is [unconfirmed]; the fake says 404 with its error body.
  if (!vm) return apiError(404, 'VM not found');
  return { status: 200, body: { error: false, data: { vmData: vmView(vm), vmTags: vm.tags.map((t) => ({ tag: t })), privateIpData: [], floatingIpData: [] } } };
}

function createVm(store: VpsieStore, body: unknown, options: RouteOptions): FakeResponse {
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
  // The API silently ignores numeric 0/1 [sdk]: only strings count.
  const flags: Record<string, string> = {};
  for (const f of FLAGS) if (body[f] === '0' || body[f] === '1') flags[f] = body[f] as string;
  store.create({
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
  // The real answer's body is [unconfirmed]; no client reads an id from it [sdk].
  return { status: 200, body: { error: false, message: 'VM creation started' } };
}

function deleteVm(store: VpsieStore, body: unknown, options: RouteOptions): FakeResponse {
  if (!isObject(body) || typeof body.vmIdentifier !== 'string') return apiError(400, 'vmIdentifier is required');
  const stat = body.deleteStatistic as { reason?: unknown } | undefined;
  if (typeof stat?.reason !== 'string' || stat.reason === '') return apiError(400, 'deleteStatistic.reason is required');
  // A wrong password answered with HTTP 200 and an error body: one [unconfirmed] guess at VPSie's habit.
  if (body.password !== options.accountPassword) return errorBody200('Invalid password');
  return store.requestDelete(body.vmIdentifier) ? { status: 200, body: { error: false, message: 'VM deleted' } } : apiError(404, 'VM not found');
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
