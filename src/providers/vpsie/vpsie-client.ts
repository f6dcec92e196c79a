import { CloudApiError, isNotFound } from '../../http/cloud-api-error.js';
import type { CloudHttpClient, CloudRequest } from '../../http/cloud-http-client.js';
import { RequestNotSentError } from '../../http/request-not-sent-error.js';
import type { RequestRateLimiter } from './request-rate-limiter.js';
import type { CreateVmRequest, Envelope, PendingVm, VmData, VpsieScript } from './types.js';

const CLOUD = 'vpsie';
const MAX_MESSAGE = 300;

/**
 * An answer that came with a 2xx status but says `{"error": true, ...}`
 * (VPSie does this [sdk: 2026 client, commit 8fbed0d]). It is a CloudApiError
 * with the status it stands for, so the one code table applies unchanged:
 *
 * - the body's `code` when it is an HTTP status (400-599);
 * - else from the message: "not found"/"does not exist" → 404,
 *   "unauthorized"/"token"/"authenticat" → 401, "forbidden"/"permission"/
 *   "password" → 403, "too many"/"rate limit" → 429, "temporarily"/"try
 *   again"/"unavailable"/"timed out" → 503;
 * - else 400: the API looked at the request and refused it (MCM retries in 3 min).
 *
 * Which of these VPSie actually sends is [unconfirmed]. Quota and capacity
 * phrases (quota, limit reached, insufficient balance/funds/credit, no
 * capacity, out of stock) set `quota` (→ ResourceExhausted). For a create,
 * an error body (whatever status it stands for) counts as "refused, nothing
 * made" [unconfirmed]: no request record is kept, so the next call may create.
 * The request metric counts these under status 200.
 */
export class VpsieBodyError extends CloudApiError {
  constructor(operation: string, status: number, cloudMessage: string | undefined, requestId: string | undefined, quota: boolean) {
    super(CLOUD, operation, 'http', { status, requestId, cloudMessage, quota });
    // An error body is VPSie's message to the caller (never its `stack`), shown whatever status it stands for.
    const msg = cloudMessage ? `: ${cloudMessage}` : '';
    const rid = requestId ? ` (request id ${requestId})` : '';
    this.message = `${CLOUD} ${operation}: HTTP 200 with an error body, treated as HTTP ${status}${msg}${rid}`;
  }
}

export function statusForErrorBody(code: unknown, message: string | undefined): number {
  if (typeof code === 'number' && Number.isInteger(code) && code >= 400 && code <= 599) return code;
  const m = message ?? '';
  if (/not found|does not exist|doesn't exist|no such/i.test(m)) return 404;
  if (/unauthori[sz]ed|unauthenticated|token|authenticat/i.test(m)) return 401;
  if (/forbidden|permission|not allowed|password/i.test(m)) return 403;
  if (/too many|rate limit/i.test(m)) return 429;
  if (/temporar|try again|unavailable|timed? ?out|maintenance/i.test(m)) return 503;
  return 400;
}

export function isQuotaMessage(message: string | undefined): boolean {
  return (
    message !== undefined &&
    /quota|limit (?:reached|exceeded)|exceeds? (?:the |your )?limit|insufficient (?:balance|funds|credit|resources)|not enough (?:balance|funds|credit|resources)|no (?:available )?capacity|out of stock/i.test(
      message,
    )
  );
}

export function cloudMessageOf(body: unknown): string | undefined {
  const m = (body as { message?: unknown } | undefined)?.message;
  return typeof m === 'string' && m !== '' ? m.replace(/\s+/g, ' ').slice(0, MAX_MESSAGE) : undefined;
}

/** Rows asked for per page: VPSie's CSI driver lists 1000 per page [sdk: vpsieinc/vpsie-csi pkg/driver/controller.go, ListOptions{Page: 0, PerPage: 1000}]. */
export const PAGE_SIZE = 1000;
/** More pages than this is a list that never ends (offset ignored?): refused rather than read forever. */
const MAX_PAGES = 100;

/**
 * VPSie's answer to an unknown or deleted object means "gone" by its message,
 * whatever the status: VPSie's clients never look at the status
 * [sdk: vpsieinc/govpsie govpsie.go Do, `errors.New(errRsp.Message)` for any
 * non-2xx], and VPSie's Terraform provider removes a server when that message
 * contains "not found" [sdk: vpsieinc/terraform-provider-vpsie
 * internal/services/server/server_resource.go Read]. So: HTTP 404, or any 4xx
 * (or 2xx error body) whose message says not found. Every other failure
 * (401, 403, 429, 5xx, timeouts, unreadable answers) is never "gone". 5xx
 * bodies are not read by the shared client (they may echo input), so a 5xx
 * "not found" stays an error and the caller asks again.
 */
export function meansGone(err: unknown): boolean {
  if (isNotFound(err)) return true;
  if (!(err instanceof CloudApiError) || err.kind !== 'http' || err.status === undefined) return false;
  if (err.status < 400 || err.status >= 500 || err.status === 401 || err.status === 403 || err.status === 429) return false;
  return NOT_FOUND_MESSAGE.test(err.fields.cloudMessage ?? '');
}
const NOT_FOUND_MESSAGE = /not found|does not exist|doesn't exist|no such/i;

/** How the 0/1 create flags are encoded: each VM path takes its own (see mapping.ts flag). */
export type FlagEncoding = 'string' | 'number';

export interface VpsieClientOptions {
  /** VM calls: create, list, get, delete. VPSie's 2026 client: `https://api.vpsie.com/api/v2` [sdk]. */
  vmHttp: CloudHttpClient;
  /** The pending view and scripts: `https://api.vpsie.com/apps/v2` in every VPSie client [sdk]. */
  appsHttp: CloudHttpClient;
  /** Shared by every session of one account (all Machines). */
  limiter: RequestRateLimiter;
}

/**
 * The VPSie operations the driver needs, one method per API call. Two API
 * families with their own base URLs: VPSie's 2026 client moved the VM calls
 * to `/api/v2/vm` [sdk: vpsieinc/govpsie server.go serverBasePath, commit
 * 234456e] while the pending view (`/apps/v2/vm/pending`, pending.go) and
 * scripts (`/apps/v2/script…`, scripts.go) stayed. Every request first takes
 * a token from the account's rate limiter.
 * Identifiers that reach a path were checked by isVmIdentifier first.
 */
export class VpsieClient {
  constructor(private readonly options: VpsieClientOptions) {}

  /** Asynchronous: the answer carries no VM identifier [sdk: vpsieinc/govpsie server.go CreateServer]. Never retried (POST). */
  async createVm(body: CreateVmRequest, signal: AbortSignal): Promise<void> {
    await this.call(this.options.vmHttp, { operation: 'create vm', method: 'POST', path: 'vm', json: body, signal });
  }

  /**
   * Every page of the project's VMs, `offset`/`limit` as VPSie's other lists
   * take them [sdk: vpsieinc/govpsie storage.go, datacenter.go, domain.go
   * `?offset=%d&limit…`; vpsieinc/vpsie-csi pkg/driver/controller.go asks
   * PerPage 1000]. govpsie's own VM list sends no paging parameters
   * (server.go ListServer: `?projectId=` only), so whether /vm pages at all
   * is [unconfirmed]; so is whether `offset` counts rows (read here) or pages:
   * govpsie fills it from ListOptions.Page, and vpsie-csi's ListVolumes sends
   * a 1-based page. Below 1000 VMs both readings give the same first page.
   * The list ends at an empty page, or a short one when `total` does not
   * claim more. What `total` counts is shown by no client (ListServerRoot.Total),
   * so it never blocks anything. A VM that moved between pages is kept once.
   */
  async listVms(projectId: string | number, signal: AbortSignal): Promise<VmData[]> {
    return this.all(this.pages<VmData>(this.options.vmHttp, 'list vms', 'vm', { projectId: String(projectId) }, signal, isVmData));
  }

  /**
   * The same listing page by page, each page asked for when the caller wants
   * it (ListMachines holds one page, not 50,000 VMs). A VM that moved between
   * pages may come twice.
   */
  listVmPages(projectId: string | number, signal: AbortSignal): AsyncIterable<VmData[]> {
    return this.pages<VmData>(this.options.vmHttp, 'list vms', 'vm', { projectId: String(projectId) }, signal, isVmData);
  }

  async listPendingVms(signal: AbortSignal): Promise<PendingVm[]> {
    const env = await this.call<PendingVm[]>(this.options.appsHttp, { operation: 'list pending vms', method: 'GET', path: 'vm/pending', signal });
    return this.array<PendingVm>(env.data, 'list pending vms');
  }

  /** undefined when VPSie says the VM does not exist (see meansGone). */
  async getVm(identifier: string, signal: AbortSignal): Promise<{ vm: VmData; tags: unknown[] } | undefined> {
    try {
      const env = await this.call<{ vmData?: VmData; vmTags?: unknown }>(this.options.vmHttp, { operation: 'get vm', method: 'GET', path: `vm/${identifier}`, signal });
      const vm = env.data?.vmData;
      if (!vm || !isVmData(vm)) throw new CloudApiError(CLOUD, 'get vm', 'malformed', { status: 200 });
      return { vm, tags: Array.isArray(env.data?.vmTags) ? env.data.vmTags : [] };
    } catch (err) {
      if (meansGone(err)) return undefined;
      throw err;
    }
  }

  /**
   * VPSie wants the account password and a reason to delete [sdk: govpsie
   * DeleteServer, Terraform requires both]. Already gone (meansGone) is success.
   * DELETE is idempotent, so the shared client may retry it.
   */
  async deleteVm(identifier: string, password: string, reason: string, note: string, signal: AbortSignal): Promise<void> {
    try {
      await this.call(this.options.vmHttp, {
        operation: 'delete vm',
        method: 'DELETE',
        path: 'vm',
        json: { vmIdentifier: identifier, password, deleteStatistic: { reason, note } },
        signal,
      });
    } catch (err) {
      if (!meansGone(err)) throw err;
    }
  }

  /** Returns no identifier [sdk: vpsieinc/govpsie scripts.go CreateScript]; the script is found by name in listScripts. */
  async addScript(body: { name: string; scriptContent: string; scriptType: 'bash'; tags: string[] }, signal: AbortSignal): Promise<void> {
    await this.call(this.options.appsHttp, { operation: 'add script', method: 'POST', path: 'script/add', json: body, signal });
  }

  /**
   * Every page of the script list. Its items may carry no body: the body is
   * read with getScript [sdk: vpsieinc/govpsie scripts.go GetScript,
   * `GET /apps/v2/script/{id}` → ScriptDetail]; the list has a `total`
   * (ListScriptRoot.Total), so it is paged like the VM list.
   */
  async listScripts(signal: AbortSignal): Promise<VpsieScript[]> {
    return this.all(
      this.pages<VpsieScript>(this.options.appsHttp, 'list scripts', 'scripts', {}, signal, (s): s is VpsieScript => {
        const x = s as VpsieScript | undefined;
        return typeof x?.identifier === 'string' && typeof x.script_name === 'string';
      }),
    );
  }

  /** A script with its body, or undefined when VPSie says it does not exist. */
  async getScript(identifier: string, signal: AbortSignal): Promise<VpsieScript | undefined> {
    try {
      const env = await this.call<VpsieScript>(this.options.appsHttp, { operation: 'get script', method: 'GET', path: `script/${encodeURIComponent(identifier)}`, signal });
      const s = env.data;
      if (!s || typeof s.identifier !== 'string' || typeof s.script !== 'string') throw new CloudApiError(CLOUD, 'get script', 'malformed', { status: 200 });
      return s;
    } catch (err) {
      if (meansGone(err)) return undefined;
      throw err;
    }
  }

  /** Already gone is success. */
  async deleteScript(identifier: string, signal: AbortSignal): Promise<void> {
    try {
      await this.call(this.options.appsHttp, { operation: 'delete script', method: 'DELETE', path: 'script', json: { scriptIdentifier: identifier }, signal });
    } catch (err) {
      if (!meansGone(err)) throw err;
    }
  }

  /** Every row of a paged listing, a row that moved between pages kept once. */
  private async all<T extends { identifier: string }>(pages: AsyncIterable<T[]>): Promise<T[]> {
    const byId = new Map<string, T>();
    for await (const rows of pages) for (const row of rows) if (!byId.has(row.identifier)) byId.set(row.identifier, row);
    return [...byId.values()];
  }

  /** The rows `keep` accepts, one page at a time as they arrive; the next page is asked for when the caller wants it. */
  private async *pages<T extends { identifier: string }>(
    http: CloudHttpClient,
    operation: string,
    path: string,
    query: Record<string, string>,
    signal: AbortSignal,
    keep: (v: unknown) => v is T,
  ): AsyncGenerator<T[], void> {
    let offset = 0;
    for (let page = 0; page < MAX_PAGES; page++) {
      const env = await this.call<T[]>(http, { operation, method: 'GET', path, searchParams: { ...query, offset, limit: PAGE_SIZE }, signal });
      const rows = this.array<unknown>(env.data, operation);
      const more = typeof env.total === 'number' && offset + rows.length < env.total;
      offset += rows.length;
      yield rows.filter(keep);
      // An empty page ends it. A short page ends it unless `total` says more rows follow (a server that caps
      // its pages below our limit); a `total` that counts something else costs one more, empty, page.
      if (rows.length === 0) return;
      if (rows.length < PAGE_SIZE && !more) return;
    }
    throw new CloudApiError(CLOUD, operation, 'malformed', { status: 200 });
  }

  /**
   * One request; a 2xx whose body says `error: true` becomes a VpsieBodyError.
   * A call cut while it waits for the rate limiter throws RequestNotSentError:
   * the request never left.
   */
  private async call<T>(http: CloudHttpClient, req: CloudRequest): Promise<Envelope<T>> {
    try {
      await this.options.limiter.take(req.signal);
    } catch (err) {
      throw new RequestNotSentError('vpsie', req.operation, err);
    }
    const res = await http.request<Envelope<T> | undefined>(req);
    const body = res.body;
    if (body === undefined || body === null) return { error: false };
    if (typeof body !== 'object' || Array.isArray(body)) {
      throw new CloudApiError(CLOUD, req.operation, 'malformed', { status: res.status, requestId: res.requestId });
    }
    if (body.error === true) {
      const message = cloudMessageOf(body);
      const status = statusForErrorBody(body.code, message);
      throw new VpsieBodyError(req.operation, status, message, res.requestId, isQuotaMessage(message));
    }
    return body;
  }

  private array<T>(data: unknown, operation: string): T[] {
    if (!Array.isArray(data)) throw new CloudApiError(CLOUD, operation, 'malformed', { status: 200 });
    return data as T[];
  }
}

function isVmData(v: unknown): v is VmData {
  const vm = v as VmData | undefined;
  return typeof vm?.identifier === 'string' && typeof vm.hostname === 'string';
}
