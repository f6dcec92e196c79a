import type { SecretData } from '../driver/provider.js';

export const REDACTED = '<redacted>';

/**
 * Values shorter than this are not redacted: cutting every "abc" or "2024"
 * out of every message would destroy the messages and protect little, since
 * a secret that short can be guessed anyway. Secret values and tokens of
 * this length or longer are cut out of every output; shorter ones are not
 * (README, "Secrets").
 */
export const MIN_SECRET_LENGTH = 6;
/**
 * Secret keys that say who or where, not how to authenticate: an operator
 * needs them in messages ("acting as alice@…", "project …"), so they are not
 * redacted. Every other key (tokens, passwords, keys, client secrets,
 * userData, unknown keys) is.
 */
const NAMING_KEYS = new Set(['username', 'impersonate-user', 'oauth-client-id', 'location', 'project-id']);

/** A line of a multi-line value (a PEM key) is cut out on its own from this length. */
const MIN_LINE_LENGTH = 16;
/** A base64 core inside a longer encoded text is cut out from this length. */
const MIN_CORE_LENGTH = 8;

/**
 * The process-wide set of secrets that are live right now: every Secret value
 * of every call being served and every token derived from one (access tokens,
 * Basic-auth headers, signed assertions). Each output (gRPC message, status
 * details, every log line through the logger's format, /metrics) is redacted
 * against the whole set, so a token fetched by one call is also cut out of a
 * line another call writes. Holders release what they registered when it is
 * no longer used (a call ends, a token is replaced); a value stays while
 * anyone holds it.
 */
export class LiveSecrets {
  private readonly holds = new Map<string, number>();
  /** The pattern of the set it was built from; reused while the set is the same again (one call at a time holds and releases the same forms). */
  private pattern: RegExp | null = null;
  private patternOf = new Set<string>();
  private changed = false;
  /** The forms of recent Secrets, by their bytes: a Secret that comes with every call is encoded once, not per call. */
  private readonly formsOfSecret = new Map<string, readonly string[]>();

  /** Registers each value and its encoded forms; the returned function releases them (once). */
  hold(values: Iterable<string>): () => void {
    const forms = new Set<string>();
    for (const v of values) for (const f of secretForms(v)) forms.add(f);
    return this.holdForms(forms);
  }

  /** Every Secret value of a request, and every string inside a JSON value (a key file's private key). */
  holdSecretData(secretData: SecretData | undefined): () => void {
    const entries = Object.entries(secretData ?? {}).filter(([key]) => !NAMING_KEYS.has(key) && !key.endsWith('-endpoint'));
    if (entries.length === 0) return () => {};
    const values = entries.map(([, raw]) => Buffer.from(raw).toString('utf8'));
    // The values themselves are the key (held in memory anyway while the Secret is used); \0 cannot end a form's source ambiguously.
    const id = values.map((v) => `${v.length}:${v}`).join('\0');
    let forms = this.formsOfSecret.get(id);
    if (forms) {
      this.formsOfSecret.delete(id); // most recent last
    } else {
      const all = new Set<string>();
      for (const v of values) for (const x of [v, ...jsonStrings(v)]) for (const f of secretForms(x)) all.add(f);
      forms = [...all];
      if (this.formsOfSecret.size >= MAX_REMEMBERED_SECRETS) this.formsOfSecret.delete(this.formsOfSecret.keys().next().value!);
    }
    this.formsOfSecret.set(id, forms);
    return this.holdForms(forms);
  }

  /** Runs before any other rewriting of the text (mcmSafe turns brackets into parentheses). */
  redact(text: string): string {
    if (this.changed) {
      this.changed = false;
      if (!sameSet(this.holds, this.patternOf)) {
        this.patternOf = new Set(this.holds.keys());
        this.pattern = buildPattern([...this.patternOf]);
      }
    }
    return this.pattern ? text.replace(this.pattern, REDACTED) : text;
  }

  get size(): number {
    return this.holds.size;
  }

  private holdForms(forms: Iterable<string>): () => void {
    const held = [...forms];
    for (const f of held) {
      const n = this.holds.get(f) ?? 0;
      this.holds.set(f, n + 1);
      if (n === 0) this.changed = true;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const f of held) {
        const n = (this.holds.get(f) ?? 1) - 1;
        if (n <= 0) {
          this.holds.delete(f);
          this.changed = true;
        } else this.holds.set(f, n);
      }
    };
  }
}

/** How many Secrets' encoded forms are remembered (an MCM serves a handful of classes). */
const MAX_REMEMBERED_SECRETS = 64;

function sameSet(a: ReadonlyMap<string, unknown>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const k of a.keys()) if (!b.has(k)) return false;
  return true;
}

export const liveSecrets = new LiveSecrets();

/** A value as it may appear in output: raw, trimmed, per line, JSON-escaped, base64 (also inside a longer base64 text), URL- and form-encoded. */
export function secretForms(value: string): string[] {
  const bases = new Set<string>();
  const trimmed = value.trim();
  if (trimmed.length >= MIN_SECRET_LENGTH) {
    bases.add(trimmed);
    if (value.length > trimmed.length) bases.add(value);
  }
  for (const line of trimmed.split(/\r?\n/)) if (line.trim().length >= MIN_LINE_LENGTH) bases.add(line.trim());
  const forms = new Set<string>();
  for (const b of bases) {
    forms.add(b);
    forms.add(JSON.stringify(b).slice(1, -1));
    forms.add(encodeURIComponent(b));
    forms.add(new URLSearchParams({ v: b }).toString().slice(2));
    const bytes = Buffer.from(b, 'utf8');
    const b64 = bytes.toString('base64');
    forms.add(b64);
    forms.add(b64.replace(/=+$/, ''));
    forms.add(bytes.toString('base64url'));
    for (const core of base64Cores(bytes)) forms.add(core);
  }
  return [...forms].filter((f) => f.length >= MIN_SECRET_LENGTH);
}

/**
 * Inside a longer base64 text a value's encoding depends on its offset modulo
 * 3; for each offset, the characters that depend only on the value's bytes.
 */
function base64Cores(bytes: Buffer): string[] {
  const cores: string[] = [];
  for (const offset of [0, 1, 2]) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
    const start = offset ? 4 : 0;
    const end = 4 * Math.floor((offset + bytes.length) / 3);
    const core = encoded.slice(start, end);
    if (core.length >= MIN_CORE_LENGTH) cores.push(core);
  }
  return cores;
}

function jsonStrings(value: string): string[] {
  if (!/^\s*[[{"]/.test(value)) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return [];
  }
  const out: string[] = [];
  const visit = (v: unknown): void => {
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === 'object') Object.values(v).forEach(visit);
  };
  visit(parsed);
  return out;
}

function buildPattern(values: string[]): RegExp | null {
  if (!values.length) return null;
  // Longest first, so a value containing another is cut out whole.
  const sorted = values.sort((a, b) => b.length - a.length);
  return new RegExp(sorted.map((v) => v.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')).join('|'), 'g');
}
