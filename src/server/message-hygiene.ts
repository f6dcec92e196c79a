/**
 * MCM reads the code back by parsing `code = [X] message = [Y]` out of the
 * error text, so a bracket in our message breaks the parse; newlines make log
 * lines unreadable. Both are replaced, never dropped. Redaction
 * (observability/live-secrets.ts) runs before this, on the raw text: after it
 * a Secret value with a bracket would no longer match.
 */
export function mcmSafe(message: string): string {
  return message.replace(/\[/g, '(').replace(/\]/g, ')').replace(/\s*\n\s*/g, ' ');
}
