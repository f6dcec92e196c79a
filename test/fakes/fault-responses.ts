// Fault answers shared by the stateful fakes: a raw (e.g. malformed) body, and a response cut mid-body.
import type { IncomingMessage, ServerResponse } from 'node:http';

/** `status` with exactly `text` as the body (not JSON-encoded), e.g. malformed JSON. */
export function writeRaw(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text).toString(), ...headers });
  res.end(text);
}

/**
 * The response the handler decided, announced with its full content-length but cut after half
 * of its body: the client sees the status and headers, then the connection ends mid-body.
 */
export function writeTruncated(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = Buffer.from(body === undefined ? '{"cut":"here"}' : JSON.stringify(body));
  const half = payload.subarray(0, Math.max(1, Math.floor(payload.length / 2)));
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': payload.length.toString() });
  res.write(half, () => res.socket?.destroy());
}

/** The request as the fake received it, for a fault with `echoRequest`: method, path, every header (Authorization too) and the body. */
export function echoOf(req: IncomingMessage, rawBody: string): string {
  return `echo of ${req.method ?? ''} ${req.url ?? ''} headers ${JSON.stringify(req.headers)} body ${rawBody}`;
}
