import { decodeJwt } from 'jose';
import { SingleFlight } from '../driver/single-flight.js';
import { liveSecrets } from '../observability/live-secrets.js';

/** Renew this long before the token expires, so a request never carries a token that dies in flight. */
const EXPIRY_MARGIN_MS = 60_000;

/**
 * One cached access token from a token endpoint: it lives until shortly before
 * its own `exp` (a JWT) or `expires_in`, a refresh is shared by concurrent
 * callers through SingleFlight (so one caller's cancellation does not fail
 * the others), `drop` forgets it when the cloud refused it, and while cached
 * it is a live secret, redacted from every output.
 */
export class CachedToken {
  private token: { value: string; renewAt: number; release: () => void } | undefined;
  private readonly flights = new SingleFlight<string>();

  constructor(private readonly fetch: (signal: AbortSignal) => Promise<{ value: string; expiresInSeconds?: number; defaultTtlSeconds: number }>) {}

  async get(signal: AbortSignal = new AbortController().signal): Promise<string> {
    if (this.token && Date.now() < this.token.renewAt) return this.token.value;
    return this.flights.run('token', signal, async (shared) => {
      const { value, expiresInSeconds, defaultTtlSeconds } = await this.fetch(shared);
      this.set(value, lifetimeMs(value, expiresInSeconds, defaultTtlSeconds));
      return value;
    });
  }

  /** Forgets the token if it is still `value` (or any token without `value`); a newer one fetched meanwhile stays. */
  drop(value?: string): void {
    if (!this.token || (value !== undefined && value !== this.token.value)) return;
    this.token.release();
    this.token = undefined;
  }

  private set(value: string, lifetime: number): void {
    const release = liveSecrets.hold([value]);
    this.token?.release();
    this.token = { value, renewAt: Date.now() + Math.max(lifetime - EXPIRY_MARGIN_MS, lifetime / 2), release };
  }
}

/** The token's own `exp` when it is a JWT that has one, else `expires_in`, else the flow's default. */
export function lifetimeMs(token: string, expiresInSeconds: number | undefined, defaultTtlSeconds: number): number {
  try {
    const { exp } = decodeJwt(token);
    if (typeof exp === 'number') return Math.max(1_000, exp * 1000 - Date.now());
  } catch {
    // Not a JWT: an opaque token, described by expires_in.
  }
  return Math.max(1, expiresInSeconds ?? defaultTtlSeconds) * 1000;
}

/** `Bearer xyz` → `xyz`. */
export function bearerValue(authorization: string | undefined): string | undefined {
  return authorization?.replace(/^Bearer\s+/i, '');
}
