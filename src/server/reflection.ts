import * as grpc from '@grpc/grpc-js';
import type { ReflectionMethod } from './reflection-service.js';

/** The reflection services grpcurl and other clients ask (grpc/grpc doc/server-reflection.md). */
export const REFLECTION_METHODS = ['/grpc.reflection.v1.ServerReflection/ServerReflectionInfo', '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo'];

const asBytes = (bytes: Buffer): Buffer => bytes;

let loading: Promise<Map<string, ReflectionMethod>> | undefined;

/**
 * Server reflection (grpcurl's `list` / `describe`) is a debugging aid nothing in the pod calls, and
 * @grpc/reflection with its descriptors is the costliest import of the sidecar (bench/RESULTS.md §4b:
 * ~19 MiB RSS). So the sidecar registers the two reflection methods with bytes in and bytes out, and
 * imports @grpc/reflection (reflection-service.ts) on the first reflection call: a sidecar nobody
 * debugs never pays for it. That call then runs @grpc/reflection's own handler, its messages decoded
 * and encoded with @grpc/reflection's own (de)serialisers.
 */
export function addReflection(server: grpc.Server): void {
  for (const path of REFLECTION_METHODS) {
    const [, service, method] = path.split('/') as [string, string, string];
    const definition: grpc.MethodDefinition<Buffer, Buffer> = {
      path,
      requestStream: true,
      responseStream: true,
      requestSerialize: asBytes,
      requestDeserialize: asBytes,
      responseSerialize: asBytes,
      responseDeserialize: asBytes,
    };
    server.addService({ [method]: definition }, {
      [method]: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
        loading ??= import('./reflection-service.js').then((m) => m.reflectionMethods());
        loading.then(
          (methods) => serveDecoded(call, methods.get(path), service),
          (err: unknown) => call.emit('error', { code: grpc.status.INTERNAL, details: `server reflection unavailable: ${err instanceof Error ? err.message : String(err)}` }),
        );
      },
    });
  }
}

/** Runs @grpc/reflection's handler on the raw call. The call's messages wait in its stream until it reads them. */
function serveDecoded(call: grpc.ServerDuplexStream<Buffer, Buffer>, method: ReflectionMethod | undefined, service: string): void {
  if (!method) {
    call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: `${service} is not served` });
    return;
  }
  const { definition, handler } = method;
  const listeners = { data: [] as Array<(m: unknown) => void>, end: [] as Array<() => void> };
  handler({
    on(event: 'data' | 'end', listener: (m?: unknown) => void) {
      listeners[event].push(listener);
      return this;
    },
    write: (message: unknown) => call.write(definition.responseSerialize(message)),
    end: () => call.end(),
  });
  call.on('end', () => listeners.end.forEach((l) => l()));
  call.on('data', (bytes: Buffer) => {
    let message: unknown;
    try {
      message = definition.requestDeserialize(bytes);
    } catch {
      call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: 'malformed reflection request' });
      return;
    }
    listeners.data.forEach((l) => l(message));
  });
}
