import type { SecretData } from '../driver/provider.js';

/**
 * MCM reads the code back by parsing `code = [X] message = [Y]` out of the
 * error text, so a bracket in our message breaks the parse; newlines make log
 * lines unreadable. Both are replaced, never dropped.
 */
export function mcmSafe(message: string): string {
  return message.replace(/\[/g, '(').replace(/\]/g, ')').replace(/\s*\n\s*/g, ' ');
}

const MIN_SECRET_LENGTH = 6;

/**
 * Last line of defence for "no secret in any error": every Secret value of
 * the request (and every string inside a JSON value, such as a key file's
 * private key) is cut out of a message before it leaves the process.
 */
export function secretRedactor(secretData: SecretData | undefined): (text: string) => string {
  // Collected on first use: most calls succeed and never redact, and trying every Secret value
  // as JSON (a thrown SyntaxError for most) costs measurable CPU per call (bench/RESULTS.md).
  let ordered: string[] | undefined;
  return (text) => {
    ordered ??= secretsOf(secretData);
    return ordered.reduce((acc, s) => (acc.includes(s) ? acc.split(s).join('<redacted>') : acc), text);
  };
}

/** Every value to cut out, longest first. */
function secretsOf(secretData: SecretData | undefined): string[] {
  const secrets = new Set<string>();
  for (const raw of Object.values(secretData ?? {})) {
    const value = Buffer.from(raw).toString('utf8');
    addSecret(secrets, value);
    addJsonStrings(secrets, value);
  }
  return [...secrets].sort((a, b) => b.length - a.length);
}

function addSecret(secrets: Set<string>, value: string): void {
  const trimmed = value.trim();
  if (trimmed.length >= MIN_SECRET_LENGTH) secrets.add(trimmed);
  for (const line of trimmed.split('\n')) {
    if (line.trim().length >= 16) secrets.add(line.trim());
  }
}

function addJsonStrings(secrets: Set<string>, value: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return;
  }
  const visit = (v: unknown): void => {
    if (typeof v === 'string') addSecret(secrets, v);
    else if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === 'object') Object.values(v).forEach(visit);
  };
  visit(parsed);
}
