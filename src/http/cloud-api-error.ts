/**
 * A failed cloud API call, reduced to what the driver may act on and show:
 * never headers, never a request body, never a 5xx body (it may echo input).
 * Like an AWS SDK service error it says its status, the cloud's request id and
 * whether retrying can help, so the mapping to an MCM code is mechanical.
 */
export type CloudFailureKind = 'http' | 'timeout' | 'network' | 'canceled' | 'malformed' | 'too-large';

export class CloudApiError extends Error {
  override readonly name = 'CloudApiError';

  constructor(
    readonly cloud: string,
    readonly operation: string,
    readonly kind: CloudFailureKind,
    readonly fields: {
      status?: number;
      requestId?: string;
      /** The cloud's own message, only for 4xx answers and 5xx capacity answers. */
      cloudMessage?: string;
      /** The cloud said a quota or capacity limit stopped it. */
      quota?: boolean;
      /** The cloud said it did not carry the request out (e.g. CloudSigma's concurrency error). */
      notApplied?: boolean;
      /** For too-large: the limit the body passed. */
      limitBytes?: number;
    } = {},
  ) {
    super(describe(cloud, operation, kind, fields));
  }

  get status(): number | undefined {
    return this.fields.status;
  }

  get retryable(): boolean {
    const s = this.fields.status;
    return this.kind === 'timeout' || this.kind === 'network' || s === 429 || (s !== undefined && s >= 500);
  }
}

export function isCloudApiError(err: unknown): err is CloudApiError {
  return err instanceof CloudApiError;
}

export function isNotFound(err: unknown): boolean {
  return isCloudApiError(err) && err.status === 404;
}

function describe(
  cloud: string,
  operation: string,
  kind: CloudFailureKind,
  f: CloudApiError['fields'],
): string {
  const what = `${cloud} ${operation}`;
  const rid = f.requestId ? ` (request id ${f.requestId})` : '';
  switch (kind) {
    case 'timeout':
      return `${what}: the cloud API did not answer in time${rid}`;
    case 'network':
      return `${what}: the cloud API could not be reached`;
    case 'canceled':
      return `${what}: canceled`;
    case 'too-large':
      return `${what}: the answer is larger than the driver's limit of ${Math.round((f.limitBytes ?? 0) / 1048576)} MiB`;
    case 'malformed':
      return `${what}: the cloud API answered HTTP ${f.status ?? '?'} with a body that is not the expected JSON${rid}`;
    case 'http': {
      const status = f.status ?? 0;
      const msg = (status < 500 || f.quota) && f.cloudMessage ? `: ${f.cloudMessage}` : '';
      return `${what}: HTTP ${status}${msg}${rid}`;
    }
  }
}
