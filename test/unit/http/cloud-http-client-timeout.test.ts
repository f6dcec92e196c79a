// The timeout path against a real loopback socket, in a file without nock:
// with nock loaded, a request that passes through its interceptor (nock's own
// delay, or a pass-through to a real server) reports got's timeout as an
// unhandled 'error' from the interceptor's mock socket, so the test would be
// testing nock, and it failed whenever another nock file had run first in the
// same jest worker.
import { createServer, type Server } from 'node:http';
import { CloudApiError } from '../../../src/http/cloud-api-error.js';
import { CloudHttpClient } from '../../../src/http/cloud-http-client.js';
import { machineCodeFor } from '../../../src/http/error-mapping.js';
import { MachineCode } from '../../../src/driver/codes.js';
import { listenOnLoopback } from '../../fakes/loopback-server.js';

let silent: Server;
let url: string;
let requests = 0;

beforeAll(async () => {
  // Takes each request and never answers it.
  silent = createServer(() => {
    requests += 1;
  });
  ({ url } = await listenOnLoopback(silent));
});

afterAll(async () => {
  silent.closeAllConnections();
  await new Promise((resolve) => silent.close(resolve));
});

test('a timeout is DeadlineExceeded, and a create is not sent again', async () => {
  const client = new CloudHttpClient({
    cloud: 'test',
    baseUrl: url,
    timeoutMs: 200,
    retry: { limit: 3, baseDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 2_000 },
    errorMessage: (b) => (b as { msg?: string }).msg,
    isQuota: () => false,
    authorize: async () => ({ authorization: 'Bearer secret-token-value' }),
  });
  const started = Date.now();
  const err = await client.request({ operation: 'create', method: 'POST', path: '/slow', json: {} }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CloudApiError);
  expect((err as CloudApiError).kind).toBe('timeout');
  expect(machineCodeFor(err as CloudApiError)).toBe(MachineCode.DeadlineExceeded);
  expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  expect(requests).toBe(1);
});
