import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import got, { HTTPError, RequestError, type CancelableRequest, type Got, type Method, type OptionsInit, type Response } from 'got';
import { liveSecrets } from '../observability/live-secrets.js';
import { logger } from '../observability/logger.js';
import { cloudRequestDuration, cloudRequests, cloudRetries } from '../observability/metrics.js';
import { MachineError } from '../driver/machine-error.js';
import { CloudApiError } from './cloud-api-error.js';
import { defaultRetryPolicy, fullJitterDelay, type RetryPolicy } from './retry-policy.js';
import { trustedCas } from './trusted-cas.js';

export interface CloudHttpClientOptions {
  cloud: string;
  baseUrl: string;
  /** Per attempt; default 30 s. */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /**
   * Headers every request carries, fixed for the client's life (e.g. a Secret's static token): set once on the got
   * instance, so no request pays for a hook. A credential that changes (a fetched token) goes in `authorize` instead.
   */
  headers?: Record<string, string>;
  /** Headers that authorise a request, e.g. a bearer token fetched on demand. */
  authorize?: (signal?: AbortSignal) => Promise<Record<string, string>>;
  /**
   * The cloud answered 401 to a request that carried `sentAuthorization`: drop that cached token and say
   * whether a new one can be had (false for a Secret's static credentials). If so, an idempotent request is
   * sent once more with headers from `authorize`; a create is not repeated.
   */
  unauthorized?: (sentAuthorization: string | undefined) => boolean;
  /** Pulls the cloud's human message out of a 4xx body. */
  errorMessage?: (body: unknown) => string | undefined;
  /** Says whether a 4xx body (or, with readServerErrorBodies, a 5xx body) reports a quota or capacity limit. */
  isQuota?: (status: number, message: string | undefined) => boolean;
  /**
   * Says whether an error answer (its body read as for isQuota) states that the
   * request was not carried out, so a create answered so cannot have taken effect.
   */
  isNotApplied?: (status: number, message: string | undefined) => boolean;
  /**
   * Also read 5xx bodies, for a cloud that reports capacity as a 5xx (CloudSigma: 503 "out of capacity").
   * Their message is kept only when isQuota says it is a capacity answer; any other 5xx body is dropped.
   */
  readServerErrorBodies?: boolean;
  /** Header carrying the cloud's request id. */
  requestIdHeader?: string;
  /** Methods got may retry; default got's idempotent set (never POST). */
  retryMethods?: Method[];
  /** A response body larger than this is refused (ResourceExhausted) instead of buffered; default 256 MiB. */
  maxResponseBytes?: number;
}

export interface CloudRequest {
  /** Names the call in logs, metrics and errors, e.g. `create server`. */
  operation: string;
  method: Method;
  path: string;
  searchParams?: Record<string, string | number | boolean>;
  json?: unknown;
  form?: Record<string, string>;
  signal?: AbortSignal;
}

export interface CloudResponse<T> {
  status: number;
  body: T;
  requestId?: string;
}

/**
 * One keep-alive pool per process for every cloud client: a status call
 * reuses a warm connection (no TCP or TLS handshake per request), and the
 * most recently used socket goes first so idle ones time out and close.
 */
const agent = {
  http: new HttpAgent({ keepAlive: true, scheduling: 'lifo' }),
  https: new HttpsAgent({ keepAlive: true, scheduling: 'lifo' }),
};

const MAX_CLOUD_MESSAGE = 300;
const DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

/**
 * The resilient HTTP client every cloud adapter uses: got with per-attempt
 * timeouts, got's retry (idempotent methods only, Retry-After honoured, full
 * jitter), one error type for every failure, and a metric and debug log line
 * per call. It never logs or returns headers or request bodies.
 */
export class CloudHttpClient {
  private readonly http: Got;

  constructor(private readonly options: CloudHttpClientOptions) {
    const policy = { ...defaultRetryPolicy, ...options.retry };
    const authorize = options.authorize;
    this.http = got.extend({
      prefixUrl: options.baseUrl,
      timeout: { request: options.timeoutMs ?? 30_000 },
      agent,
      ...(options.headers ? { headers: options.headers } : {}),
      // Node's roots plus the mounted CloudProfile CA and operator CA files (trusted-cas.ts); only an https endpoint reads them.
      ...(options.baseUrl.startsWith('https:') ? { https: { certificateAuthority: trustedCas() } } : {}),
      retry: {
        limit: policy.limit,
        enforceRetryRules: true,
        maxRetryAfter: policy.maxRetryAfterMs,
        calculateDelay: fullJitterDelay(policy),
        ...(options.retryMethods ? { methods: options.retryMethods } : {}),
      },
      responseType: 'text',
      // Hooks only where the client has something for them to do: got runs every listed hook on every request.
      hooks: {
        // An async hook costs every request a promise, a header copy and got's hook loop; fixed headers cost none of it.
        beforeRequest: authorize
          ? [
              async (req) => {
                const headers = await authorize(req.signal ?? undefined);
                for (const [k, v] of Object.entries(headers)) req.headers[k] = v;
              },
            ]
          : [],
        // A revoked cached token heals within the call (got's own re-send with new headers, once: got drops this hook for the re-sent request).
        afterResponse: !authorize || !options.unauthorized ? [] : [
          async (response, retryWithMergedOptions) => {
            if (response.statusCode !== 401 || !options.authorize || !options.unauthorized) return response;
            const sent = response.request.options;
            const authorization = sent.headers.authorization;
            const renewable = options.unauthorized(Array.isArray(authorization) ? authorization[0] : authorization);
            if (!renewable || !(sent.retry.methods ?? []).includes(sent.method)) return response;
            return retryWithMergedOptions({ headers: await options.authorize(sent.signal ?? undefined) });
          },
        ],
        beforeRetry: [
          (error, retryCount) => {
            const operation = String(error.options.context.operation ?? 'unknown');
            cloudRetries.inc({ cloud: options.cloud, operation });
            logger.debug('cloud request retry', {
              cloud: options.cloud,
              operation,
              retry: retryCount,
              status: error.response?.statusCode,
              errorCode: error.code,
            });
          },
        ],
      },
    });
  }

  async request<T>(req: CloudRequest): Promise<CloudResponse<T>> {
    const { cloud } = this.options;
    const started = performance.now();
    let statusLabel = 'error';
    const limit = this.options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    let tooLarge = false;
    try {
      // Only the options this request sets: got runs the setter (and its checks) of every key it is given, undefined or
      // not. responseType 'text' is the instance's (constructor), so it is not given again here.
      const perRequest: OptionsInit & { isStream?: false; resolveBodyOnly?: false } = { method: req.method, context: { operation: req.operation } };
      if (req.searchParams !== undefined) perRequest.searchParams = req.searchParams;
      if (req.json !== undefined) perRequest.json = req.json;
      if (req.form !== undefined) perRequest.form = req.form;
      if (req.signal !== undefined) perRequest.signal = req.signal;
      const pending = this.http(req.path.startsWith('/') ? req.path.slice(1) : req.path, perRequest) as CancelableRequest<Response<string>>;
      // got has no size limit of its own: stop reading once the body passes it.
      pending.on('downloadProgress', (progress) => {
        if (progress.transferred > limit && !tooLarge) {
          tooLarge = true;
          pending.cancel();
        }
      });
      const res = await pending;
      statusLabel = String(res.statusCode);
      const requestId = this.requestId(res.headers);
      return { status: res.statusCode, body: this.parseBody<T>(req, res.statusCode, res.body, requestId), requestId };
    } catch (err) {
      const failure = tooLarge ? new CloudApiError(cloud, req.operation, 'too-large', { limitBytes: limit }) : this.toCloudApiError(req, err);
      statusLabel = failure.status !== undefined ? String(failure.status) : failure.kind;
      throw failure;
    } finally {
      const seconds = (performance.now() - started) / 1000;
      cloudRequests.inc({ cloud, operation: req.operation, status: statusLabel });
      cloudRequestDuration.observe({ cloud, operation: req.operation }, seconds);
      logger.debug('cloud request', { cloud, operation: req.operation, httpMethod: req.method, status: statusLabel, durationMs: Math.round(seconds * 1000) });
    }
  }

  private parseBody<T>(req: CloudRequest, status: number, text: string, requestId?: string): T {
    if (text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CloudApiError(this.options.cloud, req.operation, 'malformed', { status, requestId });
    }
  }

  private requestId(headers: Record<string, string | string[] | undefined>): string | undefined {
    const v = headers[(this.options.requestIdHeader ?? 'x-request-id').toLowerCase()];
    return Array.isArray(v) ? v[0] : v;
  }

  private toCloudApiError(req: CloudRequest, err: unknown): CloudApiError {
    const { cloud } = this.options;
    if (err instanceof CloudApiError) return err;
    // A failure inside a hook (e.g. fetching the access token) arrives wrapped by got.
    if (err instanceof RequestError && err.cause instanceof CloudApiError) return err.cause;
    // Credentials the Secret got wrong (e.g. an unreadable key) keep their own code.
    if (err instanceof RequestError && err.cause instanceof MachineError) throw err.cause;
    if (err instanceof HTTPError) {
      const status = err.response.statusCode;
      const requestId = this.requestId(err.response.headers);
      let cloudMessage: string | undefined;
      const readBody = status < 500 || this.options.readServerErrorBodies === true;
      if (readBody) {
        cloudMessage = this.cloudMessage(String(err.response.body ?? ''));
      }
      const quota = readBody && (this.options.isQuota?.(status, cloudMessage) ?? false);
      const notApplied = readBody && (this.options.isNotApplied?.(status, cloudMessage) ?? false);
      // A 5xx body may echo input: only a capacity answer keeps its message.
      if (status >= 500 && !quota) cloudMessage = undefined;
      return new CloudApiError(cloud, req.operation, 'http', { status, requestId, cloudMessage, quota, ...(notApplied ? { notApplied } : {}) });
    }
    if (req.signal?.aborted || (err instanceof RequestError && err.name === 'AbortError')) {
      return new CloudApiError(cloud, req.operation, 'canceled');
    }
    if (err instanceof RequestError && err.code === 'ETIMEDOUT') {
      return new CloudApiError(cloud, req.operation, 'timeout');
    }
    return new CloudApiError(cloud, req.operation, 'network');
  }

  private cloudMessage(text: string): string | undefined {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return undefined;
    }
    const msg = this.options.errorMessage?.(body);
    // Redacted before it is cut: a secret cut in half would no longer match later.
    return msg ? liveSecrets.redact(msg).replace(/\s+/g, ' ').slice(0, MAX_CLOUD_MESSAGE) : undefined;
  }
}
