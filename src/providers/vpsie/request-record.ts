/**
 * "A create was requested for this hostname at this time": VPSie's create
 * answer carries no VM id, so until the VM is listed this record is all the
 * driver knows. It travels two ways:
 *
 * 1. As the CreateMachine error's lastKnownState. MCM stores it on the Machine
 *    and hands it back as `status.lastKnownState` on the next call
 *    (mcm-contract.md §3: for Unavailable/DeadlineExceeded/Aborted/Unknown/
 *    ResourceExhausted MCM keeps the existing value, else takes the response's),
 *    so it survives sidecar restarts.
 * 2. In the sidecar's memory (RequestLedger), for the case where MCM cleared the
 *    stored value in between (e.g. a GetMachineStatus that failed with a 3-minute
 *    code such as Unauthenticated; MCM then clears lastKnownState).
 *
 * Format (JSON, stable): `{"state":"create-requested","hostname":"<name>","requestedAt":"<ISO 8601>"}`.
 * The core writes `{"providerId","state"}` once a VM is known; that is not a record.
 */
export interface CreateRequestRecord {
  hostname: string;
  requestedAtMs: number;
}

const STATE = 'create-requested';

export function formatRecord(r: CreateRequestRecord): string {
  return JSON.stringify({ state: STATE, hostname: r.hostname, requestedAt: new Date(r.requestedAtMs).toISOString() });
}

/** The record for this hostname in a lastKnownState, or undefined (empty, other format, other hostname, bad time). */
export function parseRecord(lastKnownState: string, hostname: string, nowMs: number): CreateRequestRecord | undefined {
  if (!lastKnownState) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(lastKnownState);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (v['state'] !== STATE || v['hostname'] !== hostname || typeof v['requestedAt'] !== 'string') return undefined;
  const at = Date.parse(v['requestedAt']);
  // A time in the future is not trusted (clock skew between replicas is small, garbage is not).
  if (!Number.isFinite(at) || at > nowMs + 60_000) return undefined;
  return { hostname, requestedAtMs: at };
}

/** How long a remembered request is kept at most, whatever the discovery timeout. */
const LEDGER_TTL_MS = 24 * 60 * 60_000;

/**
 * Create requests this sidecar sent whose VM it has not seen listed yet, per
 * VPSie endpoint + project + hostname. Lives as long as the process.
 */
export class RequestLedger {
  private readonly entries = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  get(key: string): number | undefined {
    this.prune();
    return this.entries.get(key);
  }

  set(key: string, requestedAtMs: number): void {
    this.entries.set(key, requestedAtMs);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }

  private prune(): void {
    const cutoff = this.now() - LEDGER_TTL_MS;
    for (const [k, at] of this.entries) if (at < cutoff) this.entries.delete(k);
  }
}
