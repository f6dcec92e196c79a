import { createPrivateKey, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { CloudHttpClient } from '../../http/cloud-http-client.js';
import { logger } from '../../observability/logger.js';
import { tokenRefreshes } from '../../observability/metrics.js';

/** Supplies the Authorization header of every IaaS request. */
export interface AccessTokenSource {
  authorization(signal?: AbortSignal): Promise<Record<string, string>>;
}

/** Token flow: a long-lived service-account access token used as it is. */
export class StaticToken implements AccessTokenSource {
  constructor(private readonly token: string) {}

  async authorization(): Promise<Record<string, string>> {
    return { authorization: `Bearer ${this.token}` };
  }
}

export interface KeyFlowCredentials {
  kid: string;
  iss: string;
  sub: string;
  aud: string;
  privateKeyPem: string;
}

/** Renew this long before the token expires, so a request never carries a token that dies in flight. */
const EXPIRY_MARGIN_MS = 60_000;

/**
 * Key flow (what STACKIT's SDK and Go MCM provider use): a JWT signed RS512
 * with the service-account key is exchanged at the token endpoint for an
 * access token. The token is cached until shortly before it expires, and
 * concurrent callers share one refresh.
 */
export class ServiceAccountKeyFlow implements AccessTokenSource {
  private token: { value: string; renewAt: number } | undefined;
  private refreshing: Promise<string> | undefined;
  private readonly tokenClient: CloudHttpClient;
  private readonly tokenPath: string;

  constructor(
    private readonly credentials: KeyFlowCredentials,
    tokenUrl: string,
    options: { timeoutMs?: number } = {},
  ) {
    const url = new URL(tokenUrl);
    this.tokenPath = url.pathname;
    this.tokenClient = new CloudHttpClient({
      cloud: 'stackit',
      baseUrl: url.origin,
      timeoutMs: options.timeoutMs,
      // The exchange makes nothing on the server, so repeating it is safe.
      retryMethods: ['POST'],
      errorMessage: (body) => (body as { error_description?: string; error?: string } | undefined)?.error_description,
    });
  }

  async authorization(signal?: AbortSignal): Promise<Record<string, string>> {
    return { authorization: `Bearer ${await this.accessToken(signal)}` };
  }

  private async accessToken(signal?: AbortSignal): Promise<string> {
    if (this.token && Date.now() < this.token.renewAt) return this.token.value;
    this.refreshing ??= this.refresh(signal).finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async refresh(signal?: AbortSignal): Promise<string> {
    try {
      const assertion = await this.signAssertion();
      const res = await this.tokenClient.request<{ access_token?: string; expires_in?: number }>({
        operation: 'fetch access token',
        method: 'POST',
        path: this.tokenPath,
        form: { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion },
        signal,
      });
      const value = res.body?.access_token;
      if (!value) throw new Error('the token endpoint answered without an access_token');
      const lifetimeMs = (res.body?.expires_in ?? 3600) * 1000;
      this.token = { value, renewAt: Date.now() + Math.max(lifetimeMs - EXPIRY_MARGIN_MS, lifetimeMs / 2) };
      tokenRefreshes.inc({ cloud: 'stackit', outcome: 'success' });
      logger.debug('stackit access token fetched', { expiresInSeconds: res.body?.expires_in, keyId: this.credentials.kid });
      return value;
    } catch (err) {
      tokenRefreshes.inc({ cloud: 'stackit', outcome: 'failure' });
      throw err;
    }
  }

  private async signAssertion(): Promise<string> {
    const { kid, iss, sub, aud, privateKeyPem } = this.credentials;
    // createPrivateKey reads PKCS#1 and PKCS#8 alike.
    const key = createPrivateKey(privateKeyPem);
    return new SignJWT({})
      .setProtectedHeader({ alg: 'RS512', kid, typ: 'JWT' })
      .setIssuer(iss)
      .setSubject(sub)
      .setAudience(aud)
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(key);
  }
}
