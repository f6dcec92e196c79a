// Who a request is: HTTP Basic (e-mail + password), a user's static Bearer token, or a token
// issued by the service-provider impersonation flow (Keycloak client_credentials → uma-ticket RPT
// → /service_provider/api/v1/user/impersonate), as kube-dc's CloudSigma provider drives it.
import { randomBytes } from 'node:crypto';
import { apiError, oauthError, type FakeResponse } from './http.js';
import type { FakeUser } from './types.js';

export const DEFAULT_USERS: FakeUser[] = [
  { uuid: 'a11ce000-0000-4000-8000-000000000001', email: 'alice@example.com', password: 'alice-password-1', tokens: ['alice-token-1'] },
  { uuid: 'b0b00000-0000-4000-8000-000000000002', email: 'bob@example.com', password: 'bob-password-2', tokens: ['bob-token-2'] },
];

export const FAKE_PARTNER = { clientId: 'mcm-partner', clientSecret: 'partner-secret-9' };

export const TOKEN_PATH = '/realms/cloudsigma/protocol/openid-connect/token';
export const IMPERSONATE_PATH = '/service_provider/api/v1/user/impersonate';

interface Issued {
  kind: 'sa' | 'rpt' | 'user';
  expiresAt: number;
  email?: string;
}

export class Identity {
  private readonly tokens = new Map<string, Issued>();
  readonly issued = { serviceAccount: 0, rpt: 0, impersonated: 0 };
  /** Every token ever issued (service-account, RPT, impersonated), revoked ones too: what a leak test looks for. */
  readonly issuedValues: string[] = [];

  constructor(
    readonly users: FakeUser[],
    private readonly partner: { clientId: string; clientSecret: string; mayImpersonate?: string[] },
    private readonly impersonatedTtlSeconds: number,
  ) {}

  user(email: string): FakeUser {
    const u = this.users.find((x) => x.email === email);
    if (!u) throw new Error(`CloudSigmaFake: no user ${email}`);
    return u;
  }

  /** The API user of an Authorization header, or undefined. */
  authenticate(header: string | undefined): FakeUser | undefined {
    if (!header) return undefined;
    const basic = /^Basic\s+(\S+)$/i.exec(header);
    if (basic) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      if (i < 0) return undefined;
      const email = decoded.slice(0, i);
      const password = decoded.slice(i + 1);
      return this.users.find((u) => u.email === email && u.password !== undefined && u.password === password);
    }
    const bearer = /^Bearer\s+(\S+)$/i.exec(header);
    if (!bearer) return undefined;
    const token = bearer[1]!;
    const issued = this.tokens.get(token);
    if (issued) return issued.kind === 'user' && issued.expiresAt > Date.now() ? this.users.find((u) => u.email === issued.email) : undefined;
    return this.users.find((u) => u.tokens?.includes(token));
  }

  /** Every issued token (service-account, RPT, impersonated) is revoked: refused with 401 from now on. */
  revokeAll(): void {
    this.tokens.clear();
  }

  /** POST {oauth}/realms/cloudsigma/protocol/openid-connect/token */
  tokenEndpoint(form: Record<string, string>, authorization: string | undefined): FakeResponse {
    if (form.grant_type === 'client_credentials') {
      if (form.client_id !== this.partner.clientId || form.client_secret !== this.partner.clientSecret) {
        return oauthError(401, 'invalid_client', 'Invalid client or Invalid client credentials');
      }
      this.issued.serviceAccount++;
      return this.issue('sa', 300);
    }
    if (form.grant_type === 'urn:ietf:params:oauth:grant-type:uma-ticket') {
      if (form.audience !== 'service_provider_api') return oauthError(400, 'invalid_request', 'unknown audience');
      if (!this.valid(authorization, 'sa')) return oauthError(401, 'invalid_grant', 'Invalid bearer token');
      this.issued.rpt++;
      return this.issue('rpt', 300);
    }
    return oauthError(400, 'unsupported_grant_type', 'Unsupported grant_type');
  }

  /** POST https://direct.{loc}.cloudsigma.com/service_provider/api/v1/user/impersonate */
  impersonate(body: unknown, authorization: string | undefined): FakeResponse {
    if (!this.valid(authorization, 'rpt')) return apiError(401, 'Invalid or missing RPT token');
    const b = body as { user_email?: unknown; subject_token?: unknown } | undefined;
    if (typeof b?.user_email !== 'string' || typeof b.subject_token !== 'string') return apiError(400, 'user_email and subject_token are required', 'user_email');
    const subject = this.tokens.get(b.subject_token);
    if (!subject || subject.kind !== 'sa' || subject.expiresAt <= Date.now()) return apiError(401, 'Invalid subject_token');
    const user = this.users.find((u) => u.email === b.user_email);
    if (!user) return apiError(404, `User ${b.user_email} does not exist`, 'user_email');
    if (this.partner.mayImpersonate && !this.partner.mayImpersonate.includes(user.email)) {
      return apiError(403, `The service provider may not impersonate ${user.email}`, 'user_email');
    }
    this.issued.impersonated++;
    const value = `imp-${randomBytes(12).toString('hex')}`;
    this.tokens.set(value, { kind: 'user', email: user.email, expiresAt: Date.now() + this.impersonatedTtlSeconds * 1000 });
    this.issuedValues.push(value);
    return { status: 200, body: { access_token: value, token_type: 'Bearer', expires_in: this.impersonatedTtlSeconds } };
  }

  resetCounters(): void {
    this.issued.serviceAccount = 0;
    this.issued.rpt = 0;
    this.issued.impersonated = 0;
  }

  private issue(kind: 'sa' | 'rpt', ttlSeconds: number): FakeResponse {
    const value = `${kind}-${randomBytes(12).toString('hex')}`;
    this.tokens.set(value, { kind, expiresAt: Date.now() + ttlSeconds * 1000 });
    this.issuedValues.push(value);
    return { status: 200, body: { access_token: value, token_type: 'Bearer', expires_in: ttlSeconds } };
  }

  private valid(authorization: string | undefined, kind: 'sa' | 'rpt'): boolean {
    const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    const t = m ? this.tokens.get(m[1]!) : undefined;
    return !!t && t.kind === kind && t.expiresAt > Date.now();
  }
}
