import { CloudApiError, isNotFound } from '../../http/cloud-api-error.js';
import type { CloudHttpClient } from '../../http/cloud-http-client.js';
import type { CreateServerPayload, StackitNic, StackitServer } from './types.js';

/**
 * The STACKIT IaaS v2 server operations the driver needs, one method per API
 * operation. The region is part of every path in v2. IDs that reach a path
 * were validated as UUIDs before they got here.
 */
export class IaasClient {
  constructor(
    private readonly http: CloudHttpClient,
    private readonly projectId: string,
    private readonly region: string,
  ) {}

  forProject(projectId: string): IaasClient {
    return projectId === this.projectId ? this : new IaasClient(this.http, projectId, this.region);
  }

  private get servers(): string {
    return `/v2/projects/${this.projectId}/regions/${this.region}/servers`;
  }

  async createServer(payload: CreateServerPayload, signal: AbortSignal): Promise<StackitServer> {
    const res = await this.http.request<StackitServer>({ operation: 'create server', method: 'POST', path: this.servers, json: payload, signal });
    return res.body;
  }

  /** undefined when the server does not exist (404). `details` brings the NICs, hence the addresses. */
  async getServer(serverId: string, signal: AbortSignal): Promise<StackitServer | undefined> {
    try {
      const res = await this.http.request<StackitServer>({
        operation: 'get server',
        method: 'GET',
        path: `${this.servers}/${serverId}`,
        searchParams: { details: true },
        signal,
      });
      // An answer without the server (e.g. HTTP 200 with an error body) must not become a VM with id "undefined".
      if (typeof res.body?.id !== 'string') throw new CloudApiError('stackit', 'get server', 'malformed', { status: res.status, requestId: res.requestId });
      return res.body;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /**
   * `details: false` leaves out what a listing by markers does not read: the
   * v2 spec (ListServers, Server) shows nics, userData and serviceAccountMails
   * "only when detailed information is requested", while labels and status are
   * always there. userData is each server's base64 cloud-init, kilobytes per
   * server, so ListMachines asks without it.
   */
  async listServers(labelSelector: string, signal: AbortSignal, options: { details: boolean } = { details: true }): Promise<StackitServer[]> {
    const res = await this.http.request<{ items?: StackitServer[] }>({
      operation: 'list servers',
      method: 'GET',
      path: this.servers,
      searchParams: { details: options.details, label_selector: labelSelector },
      signal,
    });
    // A listing without `items` (required by the spec; e.g. HTTP 200 with an error body) is not "no servers":
    // read as empty it would make CreateMachine create a second VM and hide every VM from ListMachines.
    if (!Array.isArray(res.body?.items)) throw new CloudApiError('stackit', 'list servers', 'malformed', { status: res.status, requestId: res.requestId });
    return res.body.items;
  }

  /** Already gone (404) is success. */
  async deleteServer(serverId: string, signal: AbortSignal): Promise<void> {
    try {
      await this.http.request({ operation: 'delete server', method: 'DELETE', path: `${this.servers}/${serverId}`, signal });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** GET .../servers/{serverId}/nics (ListServerNICs in the v2 spec). */
  async listServerNics(serverId: string, signal: AbortSignal): Promise<StackitNic[]> {
    const res = await this.http.request<{ items?: StackitNic[] }>({ operation: 'list server nics', method: 'GET', path: `${this.servers}/${serverId}/nics`, signal });
    if (!Array.isArray(res.body?.items)) throw new CloudApiError('stackit', 'list server nics', 'malformed', { status: res.status, requestId: res.requestId });
    return res.body.items;
  }

  /**
   * PATCH .../networks/{networkId}/nics/{nicId} (UpdateNic) with the NIC's
   * whole new allowedAddresses list: the field is replaced, not merged, so the
   * caller sends what the NIC had plus what it adds.
   */
  async setNicAllowedAddresses(networkId: string, nicId: string, allowedAddresses: string[], signal: AbortSignal): Promise<StackitNic> {
    const res = await this.http.request<StackitNic>({
      operation: 'update nic',
      method: 'PATCH',
      path: `/v2/projects/${this.projectId}/regions/${this.region}/networks/${networkId}/nics/${nicId}`,
      json: { allowedAddresses },
      signal,
    });
    if (typeof res.body?.id !== 'string') throw new CloudApiError('stackit', 'update nic', 'malformed', { status: res.status, requestId: res.requestId });
    return res.body;
  }
}
