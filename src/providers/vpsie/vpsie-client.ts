import { CloudApiError, isNotFound } from '../../http/cloud-api-error.js';
import type { CloudHttpClient, CloudRequest } from '../../http/cloud-http-client.js';
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

/**
 * The VPSie operations the driver needs, one method per API call, relative to
 * the configured base URL (default `https://api.vpsie.com/apps/v2`). Paths are
 * those of the 2024 client and the Terraform provider [sdk]; the 2026 client
 * uses `/api/v2/vm` for VM calls [sdk] (which one is canonical: [unconfirmed]).
 * Identifiers that reach a path were checked by isVmIdentifier first.
 */
export class VpsieClient {
  constructor(private readonly http: CloudHttpClient) {}

  /** Asynchronous: the answer carries no VM identifier [sdk]. Never retried (POST). */
  async createVm(body: CreateVmRequest, signal: AbortSignal): Promise<void> {
    await this.call({ operation: 'create vm', method: 'POST', path: 'vm', json: body, signal });
  }

  /** `complete` is false when the answer's `total` says there are more than it lists (no paging is known [sdk]). */
  async listVms(projectId: string | number, signal: AbortSignal): Promise<{ vms: VmData[]; complete: boolean }> {
    const env = await this.call<VmData[]>({ operation: 'list vms', method: 'GET', path: 'vm', searchParams: { projectId: String(projectId) }, signal });
    const vms = this.array<VmData>(env.data, 'list vms').filter(isVmData);
    const complete = typeof env.total !== 'number' || env.total <= vms.length;
    return { vms, complete };
  }

  async listPendingVms(signal: AbortSignal): Promise<PendingVm[]> {
    const env = await this.call<PendingVm[]>({ operation: 'list pending vms', method: 'GET', path: 'vm/pending', signal });
    return this.array<PendingVm>(env.data, 'list pending vms');
  }

  /** undefined when VPSie says the VM does not exist (404, or an error body that means it). */
  async getVm(identifier: string, signal: AbortSignal): Promise<VmData | undefined> {
    try {
      const env = await this.call<{ vmData?: VmData }>({ operation: 'get vm', method: 'GET', path: `vm/${identifier}`, signal });
      const vm = env.data?.vmData;
      if (!vm || !isVmData(vm)) throw new CloudApiError(CLOUD, 'get vm', 'malformed', { status: 200 });
      return vm;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /**
   * VPSie wants the account password and a reason to delete [sdk: govpsie
   * DeleteServer, Terraform requires both]. Already gone (404) is success.
   * DELETE is idempotent, so the shared client may retry it.
   */
  async deleteVm(identifier: string, password: string, reason: string, note: string, signal: AbortSignal): Promise<void> {
    try {
      await this.call({
        operation: 'delete vm',
        method: 'DELETE',
        path: 'vm',
        json: { vmIdentifier: identifier, password, deleteStatistic: { reason, note } },
        signal,
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** Returns no identifier [sdk]; the script is found by name in listScripts. */
  async addScript(body: { name: string; scriptContent: string; scriptType: 'bash'; tags: string[] }, signal: AbortSignal): Promise<void> {
    await this.call({ operation: 'add script', method: 'POST', path: 'script/add', json: body, signal });
  }

  async listScripts(signal: AbortSignal): Promise<VpsieScript[]> {
    const env = await this.call<VpsieScript[]>({ operation: 'list scripts', method: 'GET', path: 'scripts', signal });
    return this.array<VpsieScript>(env.data, 'list scripts').filter(
      (s) => typeof s?.identifier === 'string' && typeof s.script_name === 'string',
    );
  }

  /** Already gone (404) is success. */
  async deleteScript(identifier: string, signal: AbortSignal): Promise<void> {
    try {
      await this.call({ operation: 'delete script', method: 'DELETE', path: 'script', json: { scriptIdentifier: identifier }, signal });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** One request; a 2xx whose body says `error: true` becomes a VpsieBodyError. */
  private async call<T>(req: CloudRequest): Promise<Envelope<T>> {
    const res = await this.http.request<Envelope<T> | undefined>(req);
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
