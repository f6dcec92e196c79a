import { createPrivateKey, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { MachineCode } from '../../driver/codes.js';
import { MachineError } from '../../driver/machine-error.js';
import { bearerValue, CachedToken } from '../../http/cached-token.js';
import { CloudHttpClient } from '../../http/cloud-http-client.js';
import { liveSecrets } from '../../observability/live-secrets.js';
import { logger } from '../../observability/logger.js';
import { tokenRefreshes } from '../../observability/metrics.js';

/** Supplies the Authorization header of every IaaS request. */
export interface AccessTokenSource {
  authorization(signal?: AbortSignal): Promise<Record<string, string>>;
  /** The API refused this Authorization (401): forget it if it is the cached token; true when a new one can be fetched. */
  invalidate(rejectedAuthorization: string | undefined): boolean;
}

/** Token flow: a long-lived service-account access token used as it is. */
export class StaticToken implements AccessTokenSource {
  constructor(private readonly token: string) {}

  /** The Authorization header of the token flow, fixed for the token's life. */
  static headers(token: string): Record<string, string> {
    return { authorization: `Bearer ${token}` };
  }

  async authorization(): Promise<Record<string, string>> {
    return StaticToken.headers(this.token);
  }

  /** A Secret's token cannot be renewed: the 401 reaches MCM (Unauthenticated) until the Secret changes. */
  invalidate(): boolean {
    return false;
  }
}

export interface KeyFlowCredentials {
  kid: string;
  iss: string;
  sub: string;
  aud: string;
  privateKeyPem: string;
}

/**
 * Key flow (what STACKIT's SDK and Go MCM provider use): a JWT signed RS512
 * with the service-account key is exchanged at the token endpoint for an
 * access token. The token is cached until shortly before its own `exp`
 * (expires_in otherwise), concurrent callers share one refresh, and a 401
 * from the IaaS API drops it (`invalidate`) so the request is re-sent with a
 * new one (cloud-http-client.ts). The token and the signed assertion are
 * live secrets while in use.
 */
export class ServiceAccountKeyFlow implements AccessTokenSource {
  private readonly token: CachedToken;
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
    this.token = new CachedToken((signal) => this.refresh(signal));
  }

  async authorization(signal?: AbortSignal): Promise<Record<string, string>> {
    return { authorization: `Bearer ${await this.token.get(signal)}` };
  }

  invalidate(rejectedAuthorization: string | undefined): boolean {
    this.token.drop(bearerValue(rejectedAuthorization));
    return true;
  }

  private async refresh(signal: AbortSignal): Promise<{ value: string; expiresInSeconds?: number; defaultTtlSeconds: number }> {
    const assertion = await this.signAssertion();
    const releaseAssertion = liveSecrets.hold([assertion]);
    try {
      const res = await this.tokenClient.request<{ access_token?: string; expires_in?: number }>({
        operation: 'fetch access token',
        method: 'POST',
        path: this.tokenPath,
        form: { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion },
        signal,
      });
      const value = res.body?.access_token;
      if (!value) throw new Error('the token endpoint answered without an access_token');
      tokenRefreshes.inc({ cloud: 'stackit', outcome: 'success' });
      logger.debug('stackit access token fetched', { expiresInSeconds: res.body?.expires_in, keyId: this.credentials.kid });
      return { value, expiresInSeconds: res.body?.expires_in, defaultTtlSeconds: 3600 };
    } catch (err) {
      tokenRefreshes.inc({ cloud: 'stackit', outcome: 'failure' });
      throw err;
    } finally {
      releaseAssertion();
    }
  }

  private async signAssertion(): Promise<string> {
    const { kid, iss, sub, aud, privateKeyPem } = this.credentials;
    let key;
    try {
      // createPrivateKey reads PKCS#1 and PKCS#8 alike.
      key = createPrivateKey(privateKeyPem);
    } catch {
      // The Secret's fault, not a cloud outage: InvalidArgument naming the key (open() checks only the PEM markers, samples carry placeholders).
      throw new MachineError(MachineCode.InvalidArgument, 'secret.serviceaccount.json.credentials.privateKey (or secret.private-key): is not a readable PEM private key');
    }
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
