import { MachineCode } from '../../driver/codes.js';
import { MachineError } from '../../driver/machine-error.js';
import { CloudApiError, isCloudApiError, isNotFound } from '../../http/cloud-api-error.js';
import type { CloudHttpClient, CloudRequest, CloudResponse } from '../../http/cloud-http-client.js';
import { logger } from '../../observability/logger.js';
import type { CloudSigmaAuth } from './auth.js';
import type { CloneDriveBody, CloudSigmaDrive, CloudSigmaServer, CreateServerBody, ListPage } from './types.js';
import { apiErrorMessage } from './mapping.js';

/** How often a listing is read again when its total_count changed while it was paged through. */
const LIST_ATTEMPTS = 3;
/** Beyond this many pages a listing is treated as broken (10,000 servers are 20 pages of 500). */
const MAX_PAGES = 10_000;

/**
 * The CloudSigma API 2.0 operations the driver needs, one method per
 * operation. Every path ends in a slash (the API's URL form). UUIDs reaching a
 * path were validated before they got here.
 *
 * Two HTTP clients share one credential: `http` retries only idempotent
 * methods (GET, PUT, DELETE), so a server create or a drive clone is never
 * sent twice; `actions` also retries POST and is used only for the start and
 * stop actions, which create nothing (a repeated start that meets a server
 * already starting is sorted out by the caller, which then reads its status).
 */
export class CloudSigmaApi {
  /** The acting user's uuid (GET /profile/), read once per credential. */
  private me: Promise<string> | undefined;
  /**
   * Servers and drives whose DELETE this process sent. Deletion is asynchronous
   * (cloudsigma-docs servers.rst and drives.rst: "204: No content, object
   * deletion started"): they stay readable and listed until they answer 404
   * (pycloudsigma src/testing/acceptance/common.py `_wait_deleted`), and must
   * not be adopted or started meanwhile.
   */
  readonly deletionStarted = new Set<string>();

  constructor(
    private readonly http: CloudHttpClient,
    private readonly actions: CloudHttpClient,
    private readonly auth: CloudSigmaAuth,
    private readonly pageSize: number,
  ) {}

  /**
   * The uuid of the user every call acts as (the impersonated user when
   * impersonating): cloudsigma-docs profile.rst, `GET /profile/` answers the
   * authenticated user's profile with its `uuid`. Listings also carry objects
   * other accounts shared through ACLs (cloudsigma-docs acls.rst: "Own
   * resources can be differentiated from granted resources, by the `owner`
   * field"); this uuid tells them apart. A failed read is not cached.
   */
  async actingUser(signal: AbortSignal): Promise<string> {
    this.me ??= this.call<{ uuid?: unknown }>(this.http, { operation: 'read profile', method: 'GET', path: 'profile/', signal }).then(
      (res) => {
        if (typeof res.body?.uuid !== 'string' || res.body.uuid === '') {
          throw new CloudApiError('cloudsigma', 'read profile', 'malformed', { status: res.status, requestId: res.requestId });
        }
        return res.body.uuid;
      },
    );
    try {
      return await this.me;
    } catch (err) {
      this.me = undefined;
      throw err;
    }
  }

  /** Every server the user can list (its own and shared ones; full objects, for their meta), all pages. */
  async listServers(signal: AbortSignal): Promise<CloudSigmaServer[]> {
    return this.listAll<CloudSigmaServer>('list servers', 'servers/detail/', {}, signal);
  }

  /**
   * The same listing page by page, each page asked for when the caller wants
   * it (ListMachines holds one page, not 50,000 servers); after a changed
   * total_count the listing comes again (pages), later pages win.
   */
  listServerPages(signal: AbortSignal): AsyncIterable<CloudSigmaServer[]> {
    return this.pages<CloudSigmaServer>('list servers', 'servers/detail/', {}, signal);
  }

  /** undefined when the server does not exist (404). A 403 (exists, not ours to see) is thrown. */
  async getServer(uuid: string, signal: AbortSignal): Promise<CloudSigmaServer | undefined> {
    try {
      const res = await this.call<CloudSigmaServer>(this.http, { operation: 'get server', method: 'GET', path: `servers/${uuid}/`, signal });
      // An answer without the server (e.g. HTTP 200 with an error list) must not become a VM with uuid "undefined".
      if (typeof res.body?.uuid !== 'string') throw new CloudApiError('cloudsigma', 'get server', 'malformed', { status: res.status, requestId: res.requestId });
      return res.body;
    } catch (err) {
      if (isNotFound(err)) {
        this.deletionStarted.delete(uuid);
        return undefined;
      }
      throw err;
    }
  }

  /** Synchronous: 201 with the server, status stopped. Never retried. */
  async createServer(server: CreateServerBody, signal: AbortSignal): Promise<CloudSigmaServer> {
    const res = await this.call<{ objects?: CloudSigmaServer[] }>(this.http, {
      operation: 'create server',
      method: 'POST',
      path: 'servers/',
      json: { objects: [server] },
      signal,
    });
    const created = res.body?.objects?.[0];
    if (!created?.uuid) throw new MachineError(MachineCode.Unavailable, 'CloudSigma create server answered without a server uuid');
    return created;
  }

  async startServer(uuid: string, signal: AbortSignal): Promise<void> {
    await this.call(this.actions, { operation: 'start server', method: 'POST', path: `servers/${uuid}/action/`, searchParams: { do: 'start' }, json: {}, signal });
  }

  /** Hard stop (do=stop), not ACPI shutdown: MCM drained the node before it deletes it. */
  async stopServer(uuid: string, signal: AbortSignal): Promise<void> {
    await this.call(this.actions, { operation: 'stop server', method: 'POST', path: `servers/${uuid}/action/`, searchParams: { do: 'stop' }, json: {}, signal });
  }

  /**
   * Starts the deletion (204); already gone (404) is success. `recurse:
   * 'all_drives'` deletes the attached drives with it, later (pycloudsigma
   * test_servers.py `test_recurse_delete_server_w_all_drives` waits for each
   * drive's 404). `drives` are the ones that go with it.
   */
  async deleteServer(uuid: string, recurse: 'all_drives' | undefined, signal: AbortSignal, drives: string[] = []): Promise<void> {
    try {
      const res = await this.call(this.http, {
        operation: 'delete server',
        method: 'DELETE',
        path: `servers/${uuid}/`,
        ...(recurse ? { searchParams: { recurse } } : {}),
        signal,
      });
      throwIfErrorList('delete server', res);
      this.deletionStarted.add(uuid);
      if (recurse) for (const d of drives) this.deletionStarted.add(d);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      this.deletionStarted.delete(uuid);
    }
  }

  /** Async (202, status cloning_dst); never retried: each clone makes a drive. */
  async cloneLibraryDrive(uuid: string, body: CloneDriveBody, signal: AbortSignal): Promise<CloudSigmaDrive> {
    return this.clone('clone library drive', `libdrives/${uuid}/action/`, body, signal);
  }

  async cloneDrive(uuid: string, body: CloneDriveBody, signal: AbortSignal): Promise<CloudSigmaDrive> {
    return this.clone('clone drive', `drives/${uuid}/action/`, body, signal);
  }

  /** undefined when the drive does not exist (404). */
  async getDrive(uuid: string, signal: AbortSignal): Promise<CloudSigmaDrive | undefined> {
    try {
      return (await this.call<CloudSigmaDrive>(this.http, { operation: 'get drive', method: 'GET', path: `drives/${uuid}/`, signal })).body;
    } catch (err) {
      if (isNotFound(err)) {
        this.deletionStarted.delete(uuid);
        return undefined;
      }
      throw err;
    }
  }

  /** Drives of the account named exactly `name` (the `name` filter narrows, this checks again). */
  async listDrivesNamed(name: string, signal: AbortSignal): Promise<CloudSigmaDrive[]> {
    const drives = await this.listAll<CloudSigmaDrive>('list drives', 'drives/detail/', { name }, signal);
    return drives.filter((d) => d.name === name);
  }

  /**
   * Starts the deletion (204); already gone (404) is success. A mounted drive
   * is not deleted by the driver: pycloudsigma's acceptance cleanup
   * (common.py `_clean_drives`) says mounted drives "cannot be deleted", though
   * drives.rst says DELETE "deletes a single mounted or unmounted drive".
   */
  async deleteDrive(uuid: string, signal: AbortSignal): Promise<void> {
    try {
      const res = await this.call(this.http, { operation: 'delete drive', method: 'DELETE', path: `drives/${uuid}/`, signal });
      throwIfErrorList('delete drive', res);
      this.deletionStarted.add(uuid);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      this.deletionStarted.delete(uuid);
    }
  }

  private async clone(operation: string, path: string, body: CloneDriveBody, signal: AbortSignal): Promise<CloudSigmaDrive> {
    const res = await this.call<{ objects?: CloudSigmaDrive[] } & Partial<CloudSigmaDrive>>(this.http, {
      operation,
      method: 'POST',
      path,
      searchParams: { do: 'clone' },
      json: body,
      signal,
    });
    // The docs' example answers {"objects": [drive]}; accept a bare drive too.
    const drive = res.body?.objects?.[0] ?? (res.body?.uuid ? (res.body as CloudSigmaDrive) : undefined);
    if (!drive?.uuid) throw new MachineError(MachineCode.Unavailable, `CloudSigma ${operation} answered without a drive uuid`);
    return drive;
  }

  /** What every attempt of `pages` saw, by uuid (a later attempt's object wins). */
  private async listAll<T extends { uuid: string }>(operation: string, path: string, filters: Record<string, string>, signal: AbortSignal): Promise<T[]> {
    const seen = new Map<string, T>();
    for await (const page of this.pages<T>(operation, path, filters, signal)) for (const o of page) seen.set(o.uuid, o);
    return [...seen.values()];
  }

  /**
   * Pages through a listing with limit/offset until meta.total_count objects
   * were read (pagination.rst), ordered by uuid so pages do not overlap, each
   * page handed on as it arrives. If total_count changed meanwhile (servers
   * made or deleted), objects may have moved between pages: the listing is
   * read again and its pages are handed on again, so a caller that keeps what
   * every attempt saw misses nothing that existed throughout.
   */
  private async *pages<T extends { uuid: string }>(operation: string, path: string, filters: Record<string, string>, signal: AbortSignal): AsyncGenerator<T[], void> {
    for (let attempt = 1; attempt <= LIST_ATTEMPTS; attempt++) {
      const stable = yield* this.readPages<T>(operation, path, filters, signal);
      if (stable) return;
      logger.debug('cloudsigma listing changed while it was read, reading it again', { operation, attempt });
    }
  }

  /** One read of a listing, page by page; answers whether total_count held still throughout. */
  private async *readPages<T extends { uuid: string }>(
    operation: string,
    path: string,
    filters: Record<string, string>,
    signal: AbortSignal,
  ): AsyncGenerator<T[], boolean> {
    let offset = 0;
    let firstTotal: number | undefined;
    let stable = true;
    for (let page = 0; page < MAX_PAGES; page++) {
      const res = await this.call<ListPage<T>>(this.http, {
        operation,
        method: 'GET',
        path,
        searchParams: { ...filters, limit: this.pageSize, offset, order_by: 'uuid' },
        signal,
      });
      // A page without `objects` (e.g. HTTP 200 with an error list) is not "no servers": read as empty it
      // would make CreateMachine create a second VM and hide every VM from ListMachines.
      if (!Array.isArray(res.body?.objects)) throw new CloudApiError('cloudsigma', operation, 'malformed', { status: res.status, requestId: res.requestId });
      const items = res.body.objects;
      const total = res.body?.meta?.total_count;
      if (typeof total === 'number') {
        firstTotal ??= total;
        if (total !== firstTotal) stable = false;
      }
      offset += items.length;
      yield items.filter((o) => typeof o?.uuid === 'string');
      // The API may answer fewer than `limit` objects per page: total_count decides when the listing is complete.
      const done = items.length === 0 || (typeof total === 'number' ? offset >= total : items.length < this.pageSize);
      if (done) {
        if (typeof total === 'number' && offset < total) stable = false;
        return stable;
      }
    }
    throw new MachineError(MachineCode.Unavailable, `CloudSigma ${operation}: the listing did not end after ${MAX_PAGES} pages`);
  }

  /** One request; a 401 drops the cached token and re-sends an idempotent request (the client's `unauthorized`, cloudsigma-provider.ts). */
  private async call<T>(client: CloudHttpClient, req: CloudRequest): Promise<CloudResponse<T>> {
    return client.request<T>(req);
  }
}

/**
 * A DELETE starts the deletion only when CloudSigma says so: 204 "object
 * deletion started" (cloudsigma-docs servers.rst, drives.rst). A 2xx carrying
 * CloudSigma's error list (errors.rst: `[{error_type, error_message,
 * error_point}]`) did not start it; taking it as started would read the VM as
 * `deleting` for ever and the DELETE would never be sent again (found by the
 * whole fault matrix). Unavailable: MCM's next call sends it again.
 */
function throwIfErrorList(operation: string, res: CloudResponse<unknown>): void {
  if (apiErrorMessage(res.body) === undefined) return;
  throw new CloudApiError('cloudsigma', operation, 'malformed', { status: res.status, requestId: res.requestId });
}
