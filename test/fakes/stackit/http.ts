// Small node:http helpers shared by the fake's handlers.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** What a handler decides; the server writes it (or drops it, for an `afterSuccess: 'drop'` fault). */
export interface FakeResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** The STACKIT error body `{code, msg}`. */
export function apiError(status: number, msg: string): FakeResponse {
  return { status, body: { code: status, msg } };
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function writeResponse(res: ServerResponse, response: FakeResponse): void {
  const payload = response.body === undefined ? '' : JSON.stringify(response.body);
  res.writeHead(response.status, {
    // Real STACKIT responses carry one; the adapter is expected to log it.
    'x-request-id': randomUUID(),
    'content-type': 'application/json',
    ...(payload === '' ? {} : { 'content-length': Buffer.byteLength(payload).toString() }),
    ...response.headers,
  });
  res.end(payload);
}
