// Small node:http helpers shared by the fake's handlers.
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { FakeResponse } from '../core/index.js';

export type { FakeResponse } from '../core/index.js';

const ERROR_TYPES: Record<number, string> = {
  400: 'validation',
  401: 'permission',
  402: 'billing',
  403: 'permission',
  404: 'notexist',
  405: 'validation',
  409: 'concurrency',
  429: 'concurrency',
  500: 'backend',
  502: 'backend',
  503: 'concurrency',
  504: 'backend',
};

/** CloudSigma's error body: a JSON array of {error_type, error_message, error_point} (errors.rst). */
export function apiError(status: number, message: string, point: string | null = null, type?: string): FakeResponse {
  return { status, body: [{ error_type: type ?? ERROR_TYPES[status] ?? 'backend', error_message: message, error_point: point }] };
}

/** An OAuth error body (Keycloak style). */
export function oauthError(status: number, error: string, description: string): FakeResponse {
  return { status, body: { error, error_description: description } };
}

export function writeResponse(res: ServerResponse, response: FakeResponse): void {
  const payload = response.body === undefined ? '' : JSON.stringify(response.body);
  res.writeHead(response.status, {
    // CloudSigma answers carry X-REQUEST-ID (the Go SDK reads it).
    'x-request-id': randomUUID(),
    ...(payload === '' ? {} : { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(payload).toString() }),
    ...response.headers,
  });
  res.end(payload);
}
