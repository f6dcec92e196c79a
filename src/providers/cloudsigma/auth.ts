import { bearerValue, CachedToken } from '../../http/cached-token.js';
import { CloudHttpClient } from '../../http/cloud-http-client.js';
import { liveSecrets } from '../../observability/live-secrets.js';
import { logger } from '../../observability/logger.js';
import { tokenRefreshes } from '../../observability/metrics.js';

/** Supplies the Authorization header of every API 2.0 request. */
export interface CloudSigmaAuth {
  /** Who the calls act as, for logs and messages: never a credential. */
  readonly actingAs: string;
  readonly impersonating: boolean;
  authorization(signal?: AbortSignal): Promise<Record<string, string>>;
  /** The API refused this Authorization (401): forget cached tokens so the next request fetches new ones. */
  invalidate(rejectedAuthorization?: string): boolean;
}

/** HTTP Basic with the account's e-mail and password (documented in general.rst). */
export class BasicAuth implements CloudSigmaAuth {
  readonly impersonating = false;
  private readonly header: string;

  constructor(
    readonly actingAs: string,
    password: string,
  ) {
    this.header = `Basic ${Buffer.from(`${actingAs}:${password}`, 'utf8').toString('base64')}`;
    // Derived from the password: live (redacted everywhere) as long as this credential is cached, i.e. the process.
    liveSecrets.hold([this.header.slice('Basic '.length)]);
  }

  async authorization(): Promise<Record<string, string>> {
    return { authorization: this.header };
  }

  /** The Secret's own credential: nothing to renew, the 401 reaches MCM. */
  invalidate(): boolean {
    return false;
  }
}

/** A CloudSigma access token as Bearer (what the Go SDK's token credentials send). */
export class BearerToken implements CloudSigmaAuth {
  readonly impersonating = false;
  readonly actingAs = 'the owner of the Secret’s token';

  constructor(private readonly token: string) {}

  async authorization(): Promise<Record<string, string>> {
    return { authorization: `Bearer ${this.token}` };
  }

  /** The Secret's own credential: nothing to renew, the 401 reaches MCM. */
  invalidate(): boolean {
    return false;
  }
}

export interface ImpersonationConfig {
  clientId: string;
  clientSecret: string;
  /** E-mail of the sub-user every call acts as. */
  user: string;
  location: string;
  /** Keycloak token endpoint: {oauth}/realms/cloudsigma/protocol/openid-connect/token. */
  tokenUrl: string;
  /** https://direct.{location}.cloudsigma.com/service_provider/api/v1/user/impersonate */
  impersonationUrl: string;
  timeoutMs?: number;
}

/** kube-dc's assumption when the impersonation answer has no expires_in. */
const DEFAULT_IMPERSONATED_TTL_S = 15 * 60;

type Fetched = { value: string; expiresInSeconds?: number; defaultTtlSeconds: number };

/**
 * Service-provider impersonation, the flow kube-dc's CloudSigma provider
 * implements "based on CloudSigma developer guidance" (cloud-apis.md §2.9,
 * mechanism 2; not in CloudSigma's published docs):
 *  1. client_credentials at Keycloak → service-account token;
 *  2. the same endpoint, Bearer service-account token, grant uma-ticket,
 *     audience service_provider_api → RPT;
 *  3. POST {user_email, subject_token} to the service-provider impersonate
 *     endpoint with Bearer RPT → an access token of the sub-user;
 *  4. every API 2.0 call carries Bearer <that token>.
 * Each token is cached until shortly before its own `exp` (expires_in
 * otherwise), concurrent callers share one refresh (cached-token.ts), and
 * every token is a live secret while cached. The token exchanges create
 * nothing, so they may be retried.
 */
export class ImpersonationFlow implements CloudSigmaAuth {
  readonly impersonating = true;
  private readonly saToken = new CachedToken((signal) => this.fetchServiceAccountToken(signal));
  private readonly rpt = new CachedToken((signal) => this.fetchRequestingPartyToken(signal));
  private readonly userToken = new CachedToken((signal) => this.fetchUserToken(signal));
  private readonly oauth: CloudHttpClient;
  private readonly tokenUrl: URL;
  private readonly impersonationUrl: URL;

  constructor(private readonly config: ImpersonationConfig) {
    this.tokenUrl = new URL(config.tokenUrl);
    this.impersonationUrl = new URL(config.impersonationUrl);
    this.oauth = this.client(this.tokenUrl);
  }

  /** A client for one token endpoint; `bearer` authorises the exchange steps that need a token. */
  private client(url: URL, bearer?: string): CloudHttpClient {
    return new CloudHttpClient({
      cloud: 'cloudsigma',
      baseUrl: url.origin,
      timeoutMs: this.config.timeoutMs,
      // The exchanges create nothing, so repeating one is safe (kube-dc reports 504s from the impersonate endpoint).
      retryMethods: ['POST'],
      errorMessage: oauthErrorMessage,
      // The bearer is fixed for this client's life: a header set once, not a hook per request.
      ...(bearer ? { headers: { authorization: `Bearer ${bearer}` } } : {}),
    });
  }

  get actingAs(): string {
    return this.config.user;
  }

  async authorization(signal?: AbortSignal): Promise<Record<string, string>> {
    return { authorization: `Bearer ${await this.userToken.get(signal)}` };
  }

  /** The API refused the sub-user's token: the whole chain is fetched again (a revoked grant may be behind it). */
  invalidate(rejectedAuthorization?: string): boolean {
    const rejected = bearerValue(rejectedAuthorization);
    this.userToken.drop(rejected);
    this.saToken.drop();
    this.rpt.drop();
    return true;
  }

  private async fetchUserToken(signal: AbortSignal): Promise<Fetched> {
    try {
      const sa = await this.saToken.get(signal);
      const rpt = await this.rpt.get(signal);
      const res = await this.client(this.impersonationUrl, rpt).request<{ access_token?: string; expires_in?: number }>({
        operation: 'impersonate user',
        method: 'POST',
        path: this.impersonationUrl.pathname,
        json: { user_email: this.config.user, subject_token: sa },
        signal,
      });
      const value = res.body?.access_token;
      if (!value) throw new Error('the impersonation endpoint answered without an access_token');
      tokenRefreshes.inc({ cloud: 'cloudsigma', outcome: 'success' });
      logger.info('cloudsigma: impersonating user', { impersonatedUser: this.config.user, location: this.config.location, expiresInSeconds: res.body?.expires_in });
      return { value, expiresInSeconds: res.body?.expires_in, defaultTtlSeconds: DEFAULT_IMPERSONATED_TTL_S };
    } catch (err) {
      tokenRefreshes.inc({ cloud: 'cloudsigma', outcome: 'failure' });
      throw err;
    }
  }

  private async fetchServiceAccountToken(signal: AbortSignal): Promise<Fetched> {
    const res = await this.oauth.request<{ access_token?: string; expires_in?: number }>({
      operation: 'fetch service-account token',
      method: 'POST',
      path: this.tokenUrl.pathname,
      form: { grant_type: 'client_credentials', client_id: this.config.clientId, client_secret: this.config.clientSecret },
      signal,
    });
    const value = res.body?.access_token;
    if (!value) throw new Error('the OAuth endpoint answered without an access_token');
    return { value, expiresInSeconds: res.body?.expires_in, defaultTtlSeconds: 300 };
  }

  private async fetchRequestingPartyToken(signal: AbortSignal): Promise<Fetched> {
    const saToken = await this.saToken.get(signal);
    const res = await this.client(this.tokenUrl, saToken).request<{ access_token?: string; expires_in?: number }>({
      operation: 'fetch service-provider token',
      method: 'POST',
      path: this.tokenUrl.pathname,
      form: { grant_type: 'urn:ietf:params:oauth:grant-type:uma-ticket', audience: 'service_provider_api' },
      signal,
    });
    const value = res.body?.access_token;
    if (!value) throw new Error('the OAuth endpoint answered the uma-ticket grant without an access_token');
    return { value, expiresInSeconds: res.body?.expires_in, defaultTtlSeconds: 300 };
  }
}

function oauthErrorMessage(body: unknown): string | undefined {
  const b = body as { error_description?: unknown; error?: unknown; message?: unknown } | undefined;
  for (const v of [b?.error_description, b?.error, b?.message]) if (typeof v === 'string') return v;
  return undefined;
}
