import { accessSync, constants, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { logger } from '../observability/logger.js';

/**
 * A create request the driver sent for a Machine whose VM it cannot rule out:
 * until the VM is found or `until` has passed, no second create is sent.
 * `providerId` is set once the cloud named the VM (a listing may still lag
 * behind it, so lookups read it by id as well).
 */
export interface CreateIntent {
  /** When the request was sent (ms since epoch). */
  at: number;
  /** The end of the discovery window (ms since epoch). */
  until: number;
  providerId?: string;
}

/** The key lastKnownState carries the intent under; other keys of the record are kept. */
export const INTENT_KEY = 'createIntent';

/** Bounds the in-memory map and the journal: a Machine's entry expires with its window anyway. */
const MAX_ENTRIES = 10_000;

/**
 * Where create intents are kept, three ways, because each can be lost:
 * - in memory (lost with the process);
 * - in lastKnownState, which MCM hands back on its next call (lost when MCM
 *   drops a status update it finds similar to the last one,
 *   machine_util.go isMachineStatusSimilar compares lastOperation and
 *   currentStatus only, or when an error code makes MCM clear it);
 * - optionally in a journal file in a writable directory (--state-dir), which
 *   survives a restart of the sidecar container within the pod (an emptyDir).
 * The intent is written before the request is sent, so a SIGKILL between
 * the request and its answer leaves it behind. The record read back is the
 * latest of the three.
 */
export class CreateIntents {
  private readonly memory = new Map<string, CreateIntent>();
  private readonly journalPath: string | undefined;

  constructor(stateDir?: string, private readonly now: () => number = Date.now) {
    if (!stateDir) return;
    try {
      mkdirSync(stateDir, { recursive: true });
      accessSync(stateDir, constants.W_OK);
    } catch (err) {
      // Checked at start: a journal that cannot be written would fail silently on the first create.
      throw new Error(`--state-dir ${stateDir}: is not a writable directory (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    this.journalPath = join(stateDir, 'create-intents.json');
    this.load();
  }

  /** The intent for `key` still inside its window, from memory, the journal or lastKnownState. */
  get(key: string, lastKnownState: string): CreateIntent | undefined {
    const candidates = [this.memory.get(key), parseIntent(lastKnownState)].filter((i): i is CreateIntent => i !== undefined);
    const now = this.now();
    const live = candidates.filter((i) => i.until > now).sort((a, b) => b.at - a.at);
    const latest = live[0];
    if (!latest) {
      if (this.memory.has(key)) this.clear(key);
      return undefined;
    }
    // An id learned by any record is kept (an older record may have it).
    const providerId = latest.providerId ?? live.find((i) => i.providerId && i.at === latest.at)?.providerId;
    return { ...latest, ...(providerId ? { providerId } : {}) };
  }

  set(key: string, intent: CreateIntent): void {
    this.memory.delete(key);
    this.memory.set(key, intent);
    this.prune();
    this.save();
  }

  clear(key: string): void {
    if (this.memory.delete(key)) this.save();
  }

  get size(): number {
    return this.memory.size;
  }

  private prune(): void {
    const now = this.now();
    for (const [k, v] of this.memory) if (v.until <= now) this.memory.delete(k);
    while (this.memory.size > MAX_ENTRIES) this.memory.delete(this.memory.keys().next().value!);
  }

  private load(): void {
    let text: string;
    try {
      text = readFileSync(this.journalPath!, 'utf8');
    } catch {
      return; // no journal yet
    }
    try {
      const entries = JSON.parse(text) as Record<string, unknown>;
      for (const [k, v] of Object.entries(entries)) {
        const intent = asIntent(v);
        if (intent) this.memory.set(k, intent);
      }
      this.prune();
      logger.info('create intents read from the journal', { path: this.journalPath, intents: this.memory.size });
    } catch (err) {
      logger.warn('create intent journal unreadable, starting without it', { path: this.journalPath, error: (err as Error).message });
    }
  }

  /** Write to a temporary file and rename: a kill mid-write leaves the old journal, never half a file. */
  private save(): void {
    if (!this.journalPath) return;
    const tmp = `${this.journalPath}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify(Object.fromEntries(this.memory)), { flush: true });
      renameSync(tmp, this.journalPath);
    } catch (err) {
      // The memory and lastKnownState records still hold; a lost journal costs safety only across a restart.
      logger.warn('could not write the create intent journal', { path: this.journalPath, error: (err as Error).message });
    }
  }
}

/** The intent a lastKnownState carries, if any (ISO times, as a human reads them in `kubectl get machine -o yaml`). */
export function parseIntent(lastKnownState: string): CreateIntent | undefined {
  if (!lastKnownState) return undefined;
  try {
    const parsed = JSON.parse(lastKnownState) as Record<string, unknown> | null;
    return asIntent(parsed?.[INTENT_KEY]);
  } catch {
    return undefined;
  }
}

/** lastKnownState with the intent added; other keys of the record (a provider's leftovers) are kept. */
export function withIntent(lastKnownState: string, intent: CreateIntent): string {
  let record: Record<string, unknown> = {};
  if (lastKnownState) {
    try {
      const parsed = JSON.parse(lastKnownState) as unknown;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) record = parsed as Record<string, unknown>;
    } catch {
      // not ours: replaced
    }
  }
  const value = { requestedAt: new Date(intent.at).toISOString(), until: new Date(intent.until).toISOString(), ...(intent.providerId ? { providerId: intent.providerId } : {}) };
  return JSON.stringify({ ...record, [INTENT_KEY]: value });
}

function asIntent(v: unknown): CreateIntent | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const o = v as Record<string, unknown>;
  const at = typeof o.at === 'number' ? o.at : typeof o.requestedAt === 'string' ? Date.parse(o.requestedAt) : NaN;
  const until = typeof o.until === 'number' ? o.until : typeof o.until === 'string' ? Date.parse(o.until) : NaN;
  if (!Number.isFinite(at) || !Number.isFinite(until)) return undefined;
  const providerId = typeof o.providerId === 'string' && o.providerId ? o.providerId : undefined;
  return { at, until, ...(providerId ? { providerId } : {}) };
}
