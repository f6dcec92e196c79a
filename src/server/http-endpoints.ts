import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { liveSecrets } from '../observability/live-secrets.js';
import { registry } from '../observability/metrics.js';

export interface Readiness {
  /** Serving gRPC and not shutting down. */
  ready(): boolean;
}

/**
 * /healthz: the process answers. /readyz: it serves gRPC and is not shutting
 * down. /metrics: Prometheus text format.
 */
export async function startHttpEndpoints(host: string, port: number, readiness: Readiness): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const ok = readiness.ready();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ready\n' : 'not ready\n');
    } else if (path === '/metrics') {
      registry.metrics().then(
        // Labels are fixed names by design; redacting the text as well keeps that true if a label ever carries cloud text.
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(liveSecrets.redact(text)),
        () => res.writeHead(500).end(),
      );
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const addr = server.address() as AddressInfo;
  return { server, url: `http://${host}:${addr.port}` };
}
