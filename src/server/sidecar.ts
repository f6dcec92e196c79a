import { lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { MachineDriver } from '../driver/machine-driver.js';
import { logger } from '../observability/logger.js';
import { DriverService } from './driver-service.js';
import { startHttpEndpoints } from './http-endpoints.js';
import { DRIVER_SERVICE } from './proto.js';
import { addReflection } from './reflection.js';

export interface SidecarOptions {
  /** `127.0.0.1:PORT` (0 = any free port) or `unix:///path/driver.sock`. */
  listen: string;
  /** `HOST:PORT` for /healthz, /readyz, /metrics; empty = none. */
  httpListen?: string;
  driver: MachineDriver;
  /** How long SIGTERM waits for in-flight calls before ending them with Unavailable. */
  shutdownGraceMs?: number;
  /** gRPC max request size; requests are a Machine, a MachineClass and a Secret. */
  maxReceiveBytes?: number;
}

export interface Sidecar {
  /** What a client dials: `127.0.0.1:PORT` or `unix:///path`. */
  grpcTarget: string;
  httpUrl?: string;
  shutdown(): Promise<void>;
}

export async function startSidecar(options: SidecarOptions): Promise<Sidecar> {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': options.maxReceiveBytes ?? 4 * 1024 * 1024,
    // channelz keeps per-call counters and timestamps (a Date per call) for a channelz service this sidecar does not serve.
    'grpc.enable_channelz': 0,
  });
  const service = new DriverService(options.driver);
  service.addTo(server);
  const health = new HealthImplementation({ '': 'NOT_SERVING', [DRIVER_SERVICE]: 'NOT_SERVING' });
  health.addToServer(server);
  // Reflection's methods answer from the start; @grpc/reflection itself loads on the first reflection call (reflection.ts).
  addReflection(server);

  prepareUnixSocket(options.listen);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(options.listen, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const grpcTarget = options.listen.startsWith('unix:') ? options.listen : `${options.listen.replace(/:\d+$/, '')}:${port}`;
  let serving = true;
  health.setStatus('', 'SERVING');
  health.setStatus(DRIVER_SERVICE, 'SERVING');

  let http: { server: HttpServer; url: string } | undefined;
  if (options.httpListen) {
    const [host, p] = splitHostPort(options.httpListen);
    http = await startHttpEndpoints(host, p, { ready: () => serving });
  }
  logger.info('sidecar serving', { grpc: grpcTarget, http: http?.url });

  let closing: Promise<void> | undefined;
  const shutdown = () =>
    (closing ??= (async () => {
      serving = false;
      health.setStatus('', 'NOT_SERVING');
      health.setStatus(DRIVER_SERVICE, 'NOT_SERVING');
      const grace = options.shutdownGraceMs ?? 30_000;
      logger.info('shutting down: no new calls, waiting for in-flight ones', { inFlight: service.inFlightCount, graceMs: grace });
      const drained = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      const timer = setTimeout(() => {
        // Answer, rather than cut, what is still running: Unavailable tells MCM to come back in 5 s.
        service.abortAll('the driver sidecar is shutting down');
        setTimeout(() => server.forceShutdown(), 2_000).unref();
      }, grace);
      await drained;
      clearTimeout(timer);
      if (http) await new Promise<void>((resolve) => http!.server.close(() => resolve()));
      logger.info('shutdown complete');
    })());

  return { grpcTarget, httpUrl: http?.url, shutdown };
}

/**
 * A unix socket path must have its folder, and a socket file left by a killed
 * predecessor would make the bind fail with EADDRINUSE: the sidecar is the
 * only server of its socket in the pod, so the stale file is removed.
 */
function prepareUnixSocket(listen: string): void {
  if (!listen.startsWith('unix:')) return;
  const path = listen.replace(/^unix:(\/\/)?/, '');
  mkdirSync(dirname(path), { recursive: true });
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // Nothing there: nothing to clean.
  }
}

export function splitHostPort(hostPort: string): [string, number] {
  const i = hostPort.lastIndexOf(':');
  if (i < 0) throw new Error(`"${hostPort}" is not HOST:PORT`);
  return [hostPort.slice(0, i).replace(/^\[|\]$/g, ''), Number(hostPort.slice(i + 1))];
}
