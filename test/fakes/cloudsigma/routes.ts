// The API 2.0 endpoints of specs/cloudsigma.yaml on top of Store. Every object has an owner:
// a user sees and changes its own servers and drives, and those another account shared with it
// through an ACL (cloudsigma-docs acls.rst: LIST puts them into the grantee's listings, told apart
// by `owner`; EDIT lets the grantee change and delete them). Any other user's object answers 403
// ("exists, not yours"), an unknown one 404, as the API does.
import { apiError, type FakeResponse } from './http.js';
import { randomMac, type Store } from './state.js';
import type { FakeDrive, FakeServer, FakeServerDrive, FakeServerNic, FakeUser } from './types.js';

export interface ApiRequest {
  method: string;
  /** Path below /api/2.0, e.g. /servers/{uuid}/ */
  path: string;
  query: Record<string, string>;
  body: unknown;
  invalidJson?: boolean;
  user: FakeUser;
}

export interface RouteContext {
  store: Store;
  users: FakeUser[];
  maxPageSize: number;
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const BASE = '/api/2.0';

export function isApiPath(path: string): boolean {
  return path === BASE || path.startsWith(`${BASE}/`);
}

export function handleApi(ctx: RouteContext, req: ApiRequest): FakeResponse {
  const path = req.path.slice(BASE.length);
  if (!path.endsWith('/')) return apiError(404, 'Not found: every API path ends in a slash');
  const parts = path.split('/').filter(Boolean);
  const [collection, id, sub] = parts;
  if (parts.length > 3) return apiError(404, 'Not found');
  if (req.invalidJson) return apiError(400, 'Malformed JSON body');

  // cloudsigma-docs profile.rst: GET /profile/ answers the authenticated user's profile (one object, with its uuid).
  if (collection === 'profile' && id === undefined) {
    return req.method === 'GET' ? { status: 200, body: { uuid: req.user.uuid, email: req.user.email, clone_naming: 'COUNTER', state: 'REGULAR', meta: {} } } : notAllowed();
  }

  if (collection === 'servers') {
    if (id === undefined) {
      if (req.method === 'GET') return listServers(ctx, req);
      if (req.method === 'POST') return createServers(ctx, req);
      return notAllowed();
    }
    if (id === 'detail' && sub === undefined) return req.method === 'GET' ? listServers(ctx, req) : notAllowed();
    if (!UUID.test(id)) return apiError(404, `Object with uuid ${id} does not exist`);
    const access = ownServer(ctx, req, id);
    if ('status' in access) return access;
    if (sub === undefined) {
      if (req.method === 'GET') return { status: 200, body: serverJson(ctx, access.server) };
      if (req.method === 'DELETE') return deleteServer(ctx, req, access.server);
      return notAllowed();
    }
    if (sub === 'action') return req.method === 'POST' ? serverAction(ctx, req, access.server) : notAllowed();
    return apiError(404, 'Not found');
  }

  if (collection === 'drives') {
    if (id === 'detail' && sub === undefined) return req.method === 'GET' ? listDrives(ctx, req) : notAllowed();
    if (id === undefined) return req.method === 'GET' ? listDrives(ctx, req) : notAllowed();
    if (!UUID.test(id)) return apiError(404, `Object with uuid ${id} does not exist`);
    const drive = ctx.store.drive(id);
    if (!drive) return apiError(404, `Object with uuid ${id} does not exist`);
    if (sub === undefined) {
      // Library drives can be read through /drives/{uuid}/ (their owner is null).
      if (req.method === 'GET') return drive.owner === null || ctx.store.may(req.user.uuid, drive, 'LIST') ? { status: 200, body: driveJson(drive) } : denied(req, id, 'LIST');
      if (req.method === 'DELETE') return drive.owner !== null && ctx.store.may(req.user.uuid, drive, 'EDIT') ? deleteDrive(ctx, drive) : denied(req, id, 'EDIT');
      return notAllowed();
    }
    if (sub === 'action') {
      if (req.method !== 'POST') return notAllowed();
      if (drive.owner !== req.user.uuid) return denied(req, id, 'CLONE');
      return cloneDrive(ctx, req, drive);
    }
    return apiError(404, 'Not found');
  }

  if (collection === 'libdrives') {
    if (id === undefined || !UUID.test(id)) return apiError(404, 'Not found');
    const drive = ctx.store.drive(id);
    if (!drive || drive.owner !== null) return apiError(404, `Object with uuid ${id} does not exist`);
    if (sub === undefined) return req.method === 'GET' ? { status: 200, body: driveJson(drive) } : notAllowed();
    if (sub === 'action') return req.method === 'POST' ? cloneDrive(ctx, req, drive) : notAllowed();
    return apiError(404, 'Not found');
  }

  return apiError(404, 'Not found');
}

function notAllowed(): FakeResponse {
  return apiError(405, 'Method not allowed');
}

/** The 403 body kube-dc saw for a VM of another identity. */
function denied(req: ApiRequest, uuid: string, permission: string): FakeResponse {
  return apiError(403, `User ${req.user.uuid} does not have all of the permissions [${permission}] in order to complete the operation on resources [${uuid}]`);
}

/** The server, if this user owns it or was granted what the request needs (LIST to read, EDIT to change or delete). */
function ownServer(ctx: RouteContext, req: ApiRequest, uuid: string): { server: FakeServer } | FakeResponse {
  const server = ctx.store.server(uuid);
  if (!server) return apiError(404, `Object with uuid ${uuid} does not exist`);
  const permission = req.method === 'GET' ? 'LIST' : 'EDIT';
  if (!ctx.store.may(req.user.uuid, server, permission)) return denied(req, uuid, permission);
  return { server };
}

/**
 * 503 when the location has no capacity for this request: cloudsigma-docs general.rst ("503 ... when the system
 * is out of capacity"). The docs give no error_type for it (errors.rst lists concurrency for the other 503
 * cause); `backend` is this fake's assumption. The message follows the one drives.rst quotes for NVMe drives.
 */
function noCapacity(what: string): FakeResponse {
  return apiError(503, `We currently cannot provide enough resources to ${what}`, null, 'backend');
}

// ---- lists ----

interface Paging {
  limit: number;
  offset: number;
  orderBy?: string;
  name?: string;
  uuid?: string[];
}

function paging(ctx: RouteContext, query: Record<string, string>): Paging | FakeResponse {
  const limit = query.limit === undefined ? 20 : Number(query.limit);
  const offset = query.offset === undefined ? 0 : Number(query.offset);
  if (!Number.isInteger(limit) || limit < 0) return apiError(400, 'limit must be a non-negative integer', 'limit');
  if (!Number.isInteger(offset) || offset < 0) return apiError(400, 'offset must be a non-negative integer', 'offset');
  const orderBy = query.order_by;
  if (orderBy !== undefined && !['uuid', '-uuid', 'name', '-name'].includes(orderBy)) {
    return apiError(400, `No matching '${orderBy}' field for ordering on.`, 'order_by');
  }
  const capped = ctx.maxPageSize > 0 ? (limit === 0 ? ctx.maxPageSize : Math.min(limit, ctx.maxPageSize)) : limit;
  return { limit: capped, offset, orderBy, name: query.name, uuid: query.uuid?.split(',') };
}

function listServers(ctx: RouteContext, req: ApiRequest): FakeResponse {
  const p = paging(ctx, req.query);
  if ('status' in p) return p;
  const { total, page } = ctx.store.pageOfServers(req.user.uuid, p, p.orderBy, p.offset, p.limit);
  return { status: 200, body: { meta: { limit: p.limit, offset: p.offset, total_count: total }, objects: page.map((s) => serverJson(ctx, s)) } };
}

function listDrives(ctx: RouteContext, req: ApiRequest): FakeResponse {
  const p = paging(ctx, req.query);
  if ('status' in p) return p;
  const { total, page } = ctx.store.pageOfDrives(req.user.uuid, p, p.orderBy, p.offset, p.limit);
  return { status: 200, body: { meta: { limit: p.limit, offset: p.offset, total_count: total }, objects: page.map(driveJson) } };
}

// ---- servers ----

type Validated<T> = { ok: true; value: T } | { ok: false; response: FakeResponse };

function invalid<T>(message: string, point: string | null): Validated<T> {
  return { ok: false, response: apiError(400, message, point) };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const ENUMS: Record<string, string[]> = {
  cpu_type: ['amd', 'intel', 'sparc_t4', 'sparc_t5', 'vmware'],
  cpu_model: ['kvm64'],
  hypervisor: ['kvm', 'solaris-kz'],
};

function createServers(ctx: RouteContext, req: ApiRequest): FakeResponse {
  const body = req.body;
  const objects = isObject(body) ? body.objects : Array.isArray(body) ? body : undefined;
  if (!Array.isArray(objects) || objects.length === 0) return apiError(400, 'This field is required', 'objects');
  if (ctx.store.outOfCapacity.has('create')) return noCapacity('create the server');
  const defs: Array<Omit<FakeServer, 'uuid' | 'owner' | 'status'>> = [];
  const claimed = new Set<string>();
  for (const [i, raw] of objects.entries()) {
    const v = validateServer(ctx, req, raw, i, claimed);
    if (!v.ok) return v.response;
    defs.push(v.value);
  }
  const created = defs.map((d) => ctx.store.createServer(req.user.uuid, d));
  return {
    status: 201,
    headers: { location: `${BASE}/servers/${created[0]!.uuid}/` },
    body: { objects: created.map((s) => serverJson(ctx, s)) },
  };
}

function validateServer(ctx: RouteContext, req: ApiRequest, raw: unknown, i: number, claimed: Set<string>): Validated<Omit<FakeServer, 'uuid' | 'owner' | 'status'>> {
  const at = (field: string) => `objects.${i}.${field}`;
  if (!isObject(raw)) return invalid('Expected an object', `objects.${i}`);
  for (const f of ['name', 'cpu', 'mem', 'vnc_password']) if (raw[f] === undefined || raw[f] === null) return invalid('This field is required', at(f));
  if (typeof raw.name !== 'string' || raw.name === '') return invalid('Expected a non-empty string', at('name'));
  for (const f of ['cpu', 'mem']) if (!Number.isInteger(raw[f]) || (raw[f] as number) <= 0) return invalid('Expected a positive integer', at(f));
  if (raw.smp !== undefined && (!Number.isInteger(raw.smp) || (raw.smp as number) < 1)) return invalid('Expected a positive integer', at('smp'));
  if (typeof raw.vnc_password !== 'string' || raw.vnc_password === '') return invalid('Expected a non-empty string', at('vnc_password'));
  for (const [f, allowed] of Object.entries(ENUMS)) {
    if (raw[f] !== undefined && raw[f] !== null && !allowed.includes(raw[f] as string)) return invalid(`Select a valid choice. ${String(raw[f])} is not one of the available choices.`, at(f));
  }
  for (const f of ['cpus_instead_of_cores', 'enable_numa', 'hv_relaxed', 'hv_tsc', 'context']) {
    if (raw[f] !== undefined && typeof raw[f] !== 'boolean') return invalid('Expected a boolean', at(f));
  }

  const drives: FakeServerDrive[] = [];
  const rawDrives = raw.drives ?? [];
  if (!Array.isArray(rawDrives)) return invalid('Expected a list', at('drives'));
  for (const [j, d] of rawDrives.entries()) {
    const point = at(`drives.${j}`);
    if (!isObject(d)) return invalid('Expected an object', point);
    const uuid = typeof d.drive === 'string' ? d.drive : isObject(d.drive) && typeof d.drive.uuid === 'string' ? d.drive.uuid : undefined;
    if (!uuid) return invalid('This field is required', `${point}.drive`);
    if (!['ide', 'virtio', 'scsi'].includes(d.device as string)) return invalid('Select a valid choice.', `${point}.device`);
    if (typeof d.dev_channel !== 'string' || !/^\d+:\d+$/.test(d.dev_channel)) return invalid('Device channel must be controller:unit', `${point}.dev_channel`);
    if (d.boot_order !== undefined && d.boot_order !== null && !Number.isInteger(d.boot_order)) return invalid('Expected an integer', `${point}.boot_order`);
    const drive = ctx.store.drive(uuid);
    if (!drive) return invalid(`Drive ${uuid} does not exist`, `${point}.drive`);
    if (drive.owner !== null && drive.owner !== req.user.uuid) return { ok: false, response: denied(req, uuid, 'ATTACH') };
    if (drive.owner === null && drive.media !== 'cdrom') return invalid(`Library drive ${uuid} must be cloned before it can be attached`, `${point}.drive`);
    if (ctx.store.isBeingDeleted(uuid)) return invalid(`Drive ${uuid} is being deleted`, `${point}.drive`);
    if (drive.status !== 'unmounted' || claimed.has(uuid)) return invalid(`Drive ${uuid} is ${claimed.has(uuid) ? 'mounted' : drive.status} and cannot be attached`, `${point}.drive`);
    claimed.add(uuid);
    drives.push({ drive: uuid, device: d.device as string, dev_channel: d.dev_channel, boot_order: (d.boot_order as number | null | undefined) ?? null });
  }

  const nics: FakeServerNic[] = [];
  const rawNics = raw.nics ?? [];
  if (!Array.isArray(rawNics)) return invalid('Expected a list', at('nics'));
  for (const [j, n] of rawNics.entries()) {
    const point = at(`nics.${j}`);
    if (!isObject(n)) return invalid('Expected an object', point);
    if (n.model !== undefined && !['virtio', 'e1000', 'rtl8139'].includes(n.model as string)) return invalid('Select a valid choice.', `${point}.model`);
    for (const f of ['ip_v4_conf', 'ip_v6_conf']) {
      const c = n[f];
      if (c === undefined || c === null) continue;
      if (!isObject(c) || !['dhcp', 'static', 'manual'].includes(c.conf as string)) return invalid('Select a valid choice.', `${point}.${f}.conf`);
      if (c.conf === 'static' && typeof c.ip !== 'string') return invalid('A static configuration needs an ip', `${point}.${f}.ip`);
    }
    for (const f of ['vlan', 'firewall_policy']) {
      if (n[f] !== undefined && n[f] !== null && (typeof n[f] !== 'string' || !UUID.test(n[f] as string))) return invalid('Expected a uuid', `${point}.${f}`);
    }
    nics.push({
      ip_v4_conf: isObject(n.ip_v4_conf) ? { conf: n.ip_v4_conf.conf as string, ip: (n.ip_v4_conf.ip as string | undefined) ?? null } : null,
      ip_v6_conf: isObject(n.ip_v6_conf) ? { conf: n.ip_v6_conf.conf as string, ip: (n.ip_v6_conf.ip as string | undefined) ?? null } : null,
      model: (n.model as string | undefined) ?? 'virtio',
      mac: typeof n.mac === 'string' ? n.mac : randomMac(),
      vlan: (n.vlan as string | undefined) ?? null,
      boot_order: (n.boot_order as number | undefined) ?? null,
      firewall_policy: (n.firewall_policy as string | undefined) ?? null,
    });
  }

  const meta = raw.meta ?? {};
  if (!isObject(meta)) return invalid('Expected a dictionary', at('meta'));
  for (const [k, v] of Object.entries(meta)) {
    if (k.length > 32) return invalid(`Meta key ${k} is longer than 32 characters`, at('meta'));
    if (typeof v !== 'string') return invalid(`Meta value of ${k} must be a string`, at('meta'));
  }
  for (const f of ['tags', 'pubkeys']) {
    const list = raw[f];
    if (list !== undefined && !(Array.isArray(list) && list.every((x) => typeof x === 'string' && UUID.test(x)))) return invalid('Expected a list of uuids', at(f));
  }
  return {
    ok: true,
    value: {
      name: raw.name,
      cpu: raw.cpu as number,
      mem: raw.mem as number,
      smp: (raw.smp as number | undefined) ?? 1,
      vnc_password: raw.vnc_password,
      cpu_type: (raw.cpu_type as string | undefined) ?? 'amd',
      cpu_model: (raw.cpu_model as string | undefined) ?? null,
      hypervisor: (raw.hypervisor as string | undefined) ?? 'kvm',
      cpus_instead_of_cores: (raw.cpus_instead_of_cores as boolean | undefined) ?? false,
      enable_numa: (raw.enable_numa as boolean | undefined) ?? false,
      hv_relaxed: (raw.hv_relaxed as boolean | undefined) ?? false,
      hv_tsc: (raw.hv_tsc as boolean | undefined) ?? false,
      context: (raw.context as boolean | undefined) ?? true,
      drives,
      nics,
      meta: meta as Record<string, string>,
      tags: (raw.tags as string[] | undefined) ?? [],
      pubkeys: (raw.pubkeys as string[] | undefined) ?? [],
    },
  };
}

function serverAction(ctx: RouteContext, req: ApiRequest, server: FakeServer): FakeResponse {
  const action = req.query.do;
  switch (action) {
    case 'start': {
      // Starting a server whose deletion started: undocumented; refused here.
      if (ctx.store.isBeingDeleted(server.uuid)) return apiError(400, `Server ${server.uuid} is being deleted`, null, 'validation');
      if (ctx.store.outOfCapacity.has('start')) return noCapacity('start the server');
      if (server.status !== 'stopped') return apiError(400, `Cannot start a server in status ${server.status}`, null, 'validation');
      for (const d of server.drives) {
        const drive = ctx.store.drive(d.drive);
        if (!drive || (drive.status !== 'mounted' && drive.status !== 'unmounted')) return apiError(400, `Drive ${d.drive} is not ready`, 'drives');
      }
      ctx.store.start(server.uuid);
      break;
    }
    case 'stop':
    case 'shutdown':
      if (!['running', 'starting', 'paused', 'unavailable'].includes(server.status)) {
        return apiError(400, `Cannot ${action} a server in status ${server.status}`, null, 'validation');
      }
      ctx.store.stop(server.uuid);
      break;
    default:
      return apiError(400, `Unknown action ${String(action)}`, 'do');
  }
  return { status: 202, body: { action, result: 'success', uuid: server.uuid } };
}

/** Refused while the server runs (the docs do not say; Terraform and kube-dc stop first). */
function deleteServer(ctx: RouteContext, req: ApiRequest, server: FakeServer): FakeResponse {
  if (server.status !== 'stopped' && server.status !== 'paused' && server.status !== 'unavailable') {
    return apiError(400, `Cannot delete a server in status ${server.status}; stop it first`, null, 'validation');
  }
  const recurse = req.query.recurse;
  if (recurse !== undefined && !['all_drives', 'disks', 'cdroms'].includes(recurse)) return apiError(400, `Unknown recurse ${recurse}`, 'recurse');
  const attached = server.drives.map((d) => ctx.store.drive(d.drive)).filter((d): d is FakeDrive => !!d);
  const withIt = attached.filter(
    (d) =>
      d.owner === server.owner &&
      ctx.store.mountedOn(d.uuid).every((s) => s === server.uuid) &&
      (recurse === 'all_drives' || (recurse === 'disks' && d.media === 'disk') || (recurse === 'cdroms' && d.media === 'cdrom')),
  );
  // Asynchronous (servers.rst "204: No content, object deletion started"): the server stays readable and listed
  // (still holding its drives) until deleteAfterMs, its recurse drives go driveDeleteAfterMs after it.
  // A DELETE of a server already being deleted answers 204 again (undocumented).
  ctx.store.startServerDeletion(server.uuid, withIt.map((d) => d.uuid));
  return { status: 204 };
}

// ---- drives ----

const STORAGE_TYPES = ['magnetic', 'ssd', 'dssd', 'zadara', 'nvme', 'local_nvme'];

function cloneDrive(ctx: RouteContext, req: ApiRequest, source: FakeDrive): FakeResponse {
  if (req.query.do !== 'clone') return apiError(400, `Unknown action ${String(req.query.do)}`, 'do');
  const body = req.body === undefined ? {} : req.body;
  if (!isObject(body)) return apiError(400, 'Expected an object');
  if (body.name !== undefined && (typeof body.name !== 'string' || body.name === '')) return apiError(400, 'Expected a non-empty string', 'name');
  if (body.media !== undefined && !['disk', 'cdrom'].includes(body.media as string)) return apiError(400, 'Select a valid choice.', 'media');
  if (body.storage_type !== undefined && !STORAGE_TYPES.includes(body.storage_type as string)) return apiError(400, 'Select a valid choice.', 'storage_type');
  if (body.size !== undefined && (!Number.isInteger(body.size) || (body.size as number) < source.size)) {
    return apiError(400, 'Size of the cloned drive can only be bigger or the same', 'size');
  }
  if (source.status !== 'unmounted' && source.status !== 'mounted') return apiError(400, `Drive ${source.uuid} is ${source.status} and cannot be cloned`);
  // cloudsigma-docs ephemeral_drives.rst: ephemeral (local_nvme) drives: "Clone — No"; and their data "is lost if the guest is stopped".
  if (body.storage_type === 'local_nvme') return apiError(400, 'Ephemeral (local_nvme) drives cannot be cloned', 'storage_type');
  if (ctx.store.outOfCapacity.has('clone')) return noCapacity(`create a ${(body.storage_type as string | undefined) ?? source.storage_type ?? 'dssd'} drive`);
  const drive = ctx.store.createDrive(
    {
      owner: req.user.uuid,
      name: (body.name as string | undefined) ?? `${source.name} - clone`,
      size: (body.size as number | undefined) ?? source.size,
      media: (body.media as string | undefined) ?? source.media,
      storage_type: (body.storage_type as string | undefined) ?? source.storage_type ?? 'dssd',
      // Library meta is copied to the clone (meta.rst).
      meta: { ...source.meta },
      clonedFrom: source.uuid,
    },
    true,
  );
  return { status: 202, body: { objects: [driveJson(drive)] } };
}

/**
 * Asynchronous like a server delete (drives.rst "204: No content, object deletion started"); a drive still
 * mounted, also on a server whose deletion has not finished, is refused: pycloudsigma's acceptance cleanup
 * (src/testing/acceptance/common.py `_clean_drives`) treats mounted drives as ones that "cannot be deleted",
 * and its test_servers.py waits for the server to leave the list before deleting its drives. (drives.rst
 * itself says DELETE "deletes a single mounted or unmounted drive"; this fake takes the stricter reading.)
 */
function deleteDrive(ctx: RouteContext, drive: FakeDrive): FakeResponse {
  if (ctx.store.isBeingDeleted(drive.uuid)) return { status: 204 };
  if (drive.mounted_on.length > 0) return apiError(400, `Drive ${drive.uuid} is mounted on a server and cannot be deleted`);
  if (drive.status !== 'unmounted' && drive.status !== 'unavailable') return apiError(400, `Drive ${drive.uuid} is ${drive.status} and cannot be deleted now`, null, 'concurrency');
  ctx.store.startDriveDeletion(drive.uuid);
  return { status: 204 };
}

// ---- JSON shapes ----

function ref(kind: string, uuid: string) {
  return { uuid, resource_uri: `${BASE}/${kind}/${uuid}/` };
}

function serverJson(ctx: RouteContext, s: FakeServer): Record<string, unknown> {
  const running = s.status === 'running';
  const ips = running ? ctx.store.ipsOf(s.uuid) : [];
  let ipIndex = 0;
  const nicRuntime = (n: FakeServerNic) => {
    const isPublic = !n.vlan && !!n.ip_v4_conf;
    const ip = isPublic ? ips[ipIndex++] : undefined;
    return { interface_type: isPublic ? 'public' : 'private', ip_v4: ip ? ref('ips', ip) : null, ip_v6: null, mac: n.mac, io: { bytes_recv: 0, bytes_sent: 0, packets_recv: 0, packets_sent: 0 } };
  };
  const runtimes = running ? s.nics.map(nicRuntime) : [];
  return {
    uuid: s.uuid,
    name: s.name,
    status: s.status,
    cpu: s.cpu,
    mem: s.mem,
    smp: s.smp,
    vnc_password: s.vnc_password,
    cpu_type: s.cpu_type,
    cpu_model: s.cpu_model,
    hypervisor: s.hypervisor,
    cpus_instead_of_cores: s.cpus_instead_of_cores,
    enable_numa: s.enable_numa,
    hv_relaxed: s.hv_relaxed,
    hv_tsc: s.hv_tsc,
    context: s.context,
    owner: ref('user', s.owner),
    meta: s.meta,
    drives: s.drives.map((d) => ({ drive: ref('drives', d.drive), device: d.device, dev_channel: d.dev_channel, boot_order: d.boot_order ?? null, runtime: null })),
    nics: s.nics.map((n, i) => ({
      ip_v4_conf: n.ip_v4_conf ? { conf: n.ip_v4_conf.conf, ip: n.ip_v4_conf.ip ? ref('ips', n.ip_v4_conf.ip) : null } : null,
      ip_v6_conf: n.ip_v6_conf ? { conf: n.ip_v6_conf.conf, ip: n.ip_v6_conf.ip ? ref('ips', n.ip_v6_conf.ip) : null } : null,
      model: n.model,
      mac: n.mac,
      vlan: n.vlan ? ref('vlans', n.vlan) : null,
      boot_order: n.boot_order ?? null,
      firewall_policy: n.firewall_policy ? ref('fwpolicies', n.firewall_policy) : null,
      runtime: runtimes[i] ?? null,
    })),
    runtime: running ? { active_since: new Date().toISOString(), nics: runtimes } : null,
    tags: s.tags.map((t) => ref('tags', t)),
    pubkeys: s.pubkeys.map((k) => ref('keypairs', k)),
    jobs: [],
    resource_uri: `${BASE}/servers/${s.uuid}/`,
  };
}

function driveJson(d: FakeDrive): Record<string, unknown> {
  return {
    uuid: d.uuid,
    name: d.name,
    status: d.status,
    size: d.size,
    media: d.media,
    storage_type: d.storage_type,
    owner: d.owner ? ref('user', d.owner) : null,
    mounted_on: d.mounted_on.map((s) => ref('servers', s)),
    meta: d.meta,
    allow_multimount: false,
    affinities: [],
    jobs: [],
    tags: [],
    resource_uri: `${BASE}/${d.owner ? 'drives' : 'libdrives'}/${d.uuid}/`,
  };
}
