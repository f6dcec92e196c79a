// Small node:http helpers shared by the fake's handlers.
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { FakeResponse } from '../core/index.js';

export type { FakeResponse } from '../core/index.js';

/** The STACKIT error body `{code, msg}`. */
export function apiError(status: number, msg: string): FakeResponse {
  return { status, body: { code: status, msg } };
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
