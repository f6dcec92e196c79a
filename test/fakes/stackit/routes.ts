// The server and NIC endpoints of specs/stackit-iaas.yaml, on top of ServerStore.
import { apiError, type FakeResponse } from './http.js';
import { LabelSelectorError, parseLabelSelector } from './label-selector.js';
import type { ServerStore } from './state.js';
import type { FakeNic, FakeServer } from './types.js';
import { isUuid, validateCreateServer } from './validate.js';

export interface IaasRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** Parsed JSON body; `invalidJson` is set when the body was present but did not parse. */
  body: unknown;
  invalidJson?: boolean;
}

const SERVERS_PATH = /^\/v2\/projects\/([^/]+)\/regions\/([^/]+)\/servers(?:\/([^/]+))?\/?$/;
const SERVER_NICS_PATH = /^\/v2\/projects\/([^/]+)\/regions\/([^/]+)\/servers\/([^/]+)\/nics\/?$/;
const NETWORK_NIC_PATH = /^\/v2\/projects\/([^/]+)\/regions\/([^/]+)\/networks\/([^/]+)\/nics\/([^/]+)\/?$/;

export function isIaasPath(path: string): boolean {
  return path.startsWith('/v2/');
}

export function handleIaas(store: ServerStore, req: IaasRequest): FakeResponse {
  const nics = SERVER_NICS_PATH.exec(req.path) ?? NETWORK_NIC_PATH.exec(req.path);
  if (nics) return handleNics(store, req, nics.slice(1).map((p) => safeDecode(p) ?? ''));
  const match = SERVERS_PATH.exec(req.path);
  if (!match) return apiError(404, 'route not found');
  const [, projectId = '', region = '', serverId] = match.map(safeDecode);
  if (!isUuid(projectId) || (serverId !== undefined && !isUuid(serverId))) return apiError(400, 'invalid uuid');
  const details = req.query.details === 'true';

  if (serverId === undefined) {
    if (req.method === 'GET') return listServers(store, projectId, region, req.query.label_selector ?? '', details);
    if (req.method === 'POST') return createServer(store, projectId, region, req);
  } else {
    if (req.method === 'GET') return getServer(store, projectId, region, serverId, details);
    if (req.method === 'DELETE') return deleteServer(store, projectId, region, serverId);
  }
  return apiError(405, 'method not allowed');
}

/**
 * ListServerNICs (GET .../servers/{serverId}/nics) and UpdateNic (PATCH
 * .../networks/{networkId}/nics/{nicId}) of the vendor v2 spec
 * (../shared/vendor-specs/stackit-iaas-v2.json), the two calls STACKIT's Go
 * provider makes to allow pod CIDRs on a node's NIC
 * (machine-controller-manager-provider-stackit pkg/provider/create.go,
 * patchNetworkInterfaces; pkg/client/sdk.go GetNICsForServer / UpdateNIC).
 */
function handleNics(store: ServerStore, req: IaasRequest, ids: string[]): FakeResponse {
  const [projectId = '', region = '', ...rest] = ids;
  if (![projectId, ...rest].every(isUuid)) return apiError(400, 'invalid uuid');
  if (rest.length === 1) {
    if (req.method !== 'GET') return apiError(405, 'method not allowed');
    const server = store.find(projectId, region, rest[0]!);
    return server ? { status: 200, body: { items: server.nics.map(toApiNic) } } : apiError(404, 'server not found');
  }
  if (req.method !== 'PATCH') return apiError(405, 'method not allowed');
  if (req.invalidJson) return apiError(400, 'request body has an error: failed to decode request body: invalid JSON');
  const body = req.body as { allowedAddresses?: unknown } | undefined;
  const allowed = body?.allowedAddresses;
  if (allowed !== undefined && !(Array.isArray(allowed) && allowed.every((a) => typeof a === 'string'))) {
    return apiError(400, 'request body has an error: doesn\'t match schema: Error at "/allowedAddresses": value must be an array of strings');
  }
  const current = store.inProject(projectId, region).flatMap((s) => s.nics).find((n) => n.nicId === rest[1] && n.networkId === rest[0]);
  if (!current) return apiError(404, 'nic not found');
  const updated = store.updateNicAllowedAddresses(projectId, region, rest[0]!, rest[1]!, (allowed as string[] | undefined) ?? current.allowedAddresses ?? []);
  return updated ? { status: 200, body: toApiNic(updated) } : apiError(404, 'nic not found');
}

/** A NIC as the NIC endpoints show it (vendor schema NIC: `id`, not ServerNetwork's `nicId`). */
function toApiNic(nic: FakeNic): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: nic.nicId,
    networkId: nic.networkId,
    mac: nic.mac,
    nicSecurity: nic.nicSecurity,
    allowedAddresses: nic.allowedAddresses ?? [],
    status: 'ACTIVE',
    type: 'server',
  };
  if (nic.ipv4) out.ipv4 = nic.ipv4;
  if (nic.ipv6) out.ipv6 = nic.ipv6;
  return out;
}

function safeDecode(part: string | undefined): string | undefined {
  if (part === undefined) return undefined;
  try {
    return decodeURIComponent(part);
  } catch {
    return part; // malformed %-escapes: left as-is, then rejected as "invalid uuid" or unknown
  }
}

function listServers(store: ServerStore, projectId: string, region: string, selector: string, details: boolean): FakeResponse {
  try {
    const items = store.list(projectId, region, parseLabelSelector(selector));
    return { status: 200, body: { items: items.map((s) => toApi(s, details)) } };
  } catch (err) {
    if (err instanceof LabelSelectorError) return apiError(400, err.message);
    throw err;
  }
}

function createServer(store: ServerStore, projectId: string, region: string, req: IaasRequest): FakeResponse {
  if (req.invalidJson) return apiError(400, 'request body has an error: failed to decode request body: invalid JSON');
  const validation = validateCreateServer(req.body);
  if (!validation.ok) return apiError(400, validation.msg);
  const server = store.create(projectId, region, validation.payload);
  // The create answer shows the full object (nics included), like GET with details=true.
  return { status: 201, body: toApi(server, true) };
}

function getServer(store: ServerStore, projectId: string, region: string, id: string, details: boolean): FakeResponse {
  const server = store.find(projectId, region, id);
  return server ? { status: 200, body: toApi(server, details) } : apiError(404, 'server not found');
}

function deleteServer(store: ServerStore, projectId: string, region: string, id: string): FakeResponse {
  return store.requestDelete(projectId, region, id) ? { status: 204 } : apiError(404, 'server not found');
}

/**
 * The Server object as the API returns it: without write-only fields (securityGroups and the
 * boot volume's size/performanceClass/source) and, unless `details`, without userData, nics and
 * serviceAccountMails.
 */
function toApi(server: FakeServer, details: boolean): Record<string, unknown> {
  const { projectId: _p, region: _r, securityGroups: _sg, userData, nics, serviceAccountMails, bootVolume, ...rest } = server;
  const out: Record<string, unknown> = { ...rest };
  if (bootVolume) out.bootVolume = { id: bootVolume.id, deleteOnTermination: bootVolume.deleteOnTermination ?? false };
  if (details) Object.assign(out, { userData, nics, serviceAccountMails });
  // JSON.stringify would drop them anyway; removing them keeps recorded bodies tidy.
  for (const key of Object.keys(out)) if (out[key] === undefined) delete out[key];
  return out;
}
