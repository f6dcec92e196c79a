// The STACKIT service-account token endpoint (key flow): a JWT-bearer grant whose RS512
// assertion is signed with the service account's private key and names the key by `kid`.
import { createPublicKey, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT, decodeProtectedHeader, jwtVerify } from 'jose';
import type { FakeResponse } from './http.js';

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

const REQUIRED_CLAIMS = ['iss', 'sub', 'aud', 'jti', 'iat', 'exp'];

export interface TokenIssuerOptions {
  staticTokens: string[];
  trustedKeys: Array<{ kid: string; publicKeyPem: string }>;
  ttlSeconds: number;
  now?: () => number;
}

export class TokenIssuer {
  private readonly keys = new Map<string, KeyObject>();
  private readonly expiryByToken = new Map<string, number>();
  // Issued tokens are JWTs because STACKIT's SDKs read `exp` from the access token to decide
  // when to refresh; the fake itself only looks them up.
  private readonly signingSecret = randomBytes(32);
  private readonly now: () => number;
  issuedCount = 0;
  /** Every access token ever issued, revoked ones too: what a leak test looks for. */
  readonly issuedValues: string[] = [];

  constructor(private readonly options: TokenIssuerOptions) {
    this.now = options.now ?? Date.now;
    // createPublicKey takes both SPKI ("BEGIN PUBLIC KEY") and PKCS#1 ("BEGIN RSA PUBLIC KEY").
    for (const { kid, publicKeyPem } of options.trustedKeys) this.keys.set(kid, createPublicKey(publicKeyPem));
  }

  /** The account revoked every issued access token (static tokens stay): they are refused with 401 from now on. */
  revokeAll(): void {
    this.expiryByToken.clear();
  }

  isAccepted(token: string): boolean {
    if (this.options.staticTokens.includes(token)) return true;
    const expiresAt = this.expiryByToken.get(token);
    return expiresAt !== undefined && expiresAt > this.now();
  }

  /** Handles POST /token with an already-parsed form body. */
  async handle(contentType: string | undefined, form: Record<string, string>): Promise<FakeResponse> {
    if (!contentType?.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
      return oauthError(400, 'invalid_request', 'content-type must be application/x-www-form-urlencoded');
    }
    if (form.grant_type !== JWT_BEARER_GRANT) {
      return oauthError(400, 'unsupported_grant_type', `grant_type must be ${JWT_BEARER_GRANT}`);
    }
    const assertion = form.assertion;
    if (!assertion) return oauthError(400, 'invalid_request', 'assertion is missing');

    let kid: string | undefined;
    try {
      kid = decodeProtectedHeader(assertion).kid;
    } catch {
      return oauthError(400, 'invalid_request', 'assertion is not a JWT');
    }
    const key = kid === undefined ? undefined : this.keys.get(kid);
    if (!key) return oauthError(401, 'invalid_grant', `unknown key id ${JSON.stringify(kid ?? null)}`);

    let subject: string | undefined;
    try {
      const { payload } = await jwtVerify(assertion, key, {
        algorithms: ['RS512'],
        requiredClaims: REQUIRED_CLAIMS,
        currentDate: new Date(this.now()),
      });
      subject = payload.sub;
    } catch (err) {
      return oauthError(401, 'invalid_grant', `assertion rejected: ${(err as Error).message}`);
    }

    const nowSeconds = Math.floor(this.now() / 1000);
    const accessToken = await new SignJWT({ scope: 'iaas' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer('stackit-fake')
      .setSubject(subject ?? 'unknown')
      .setJti(randomUUID())
      .setIssuedAt(nowSeconds)
      .setExpirationTime(nowSeconds + this.options.ttlSeconds)
      .sign(this.signingSecret);
    this.expiryByToken.set(accessToken, this.now() + this.options.ttlSeconds * 1000);
    this.issuedValues.push(accessToken);
    this.issuedCount += 1;
    return {
      status: 200,
      body: { access_token: accessToken, expires_in: this.options.ttlSeconds, token_type: 'Bearer', scope: 'iaas' },
    };
  }
}

function oauthError(status: number, error: string, description: string): FakeResponse {
  // RFC 6749 §5.2 error shape; STACKIT's exact token-endpoint error body is not documented.
  return { status, body: { error, error_description: description } };
}
