import type * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { ReflectionService } from '@grpc/reflection';
import { DRIVER_PROTO, loaderOptions } from './proto.js';
import { withProtocDescriptors } from './reflection-descriptors.js';

/** One reflection method as @grpc/reflection registers it: its (de)serialisers and its handler. */
export interface ReflectionMethod {
  definition: grpc.MethodDefinition<unknown, unknown>;
  handler: (call: ReflectionStream) => void;
}

/** What @grpc/reflection's handler uses of a bidi call (reflection-v1.js: on 'data'/'end', write, end). */
export interface ReflectionStream {
  on(event: 'data', listener: (message: unknown) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  write(message: unknown): unknown;
  end(): unknown;
}

/**
 * @grpc/reflection's methods (v1 and v1alpha), keyed by gRPC path. The costliest import of the sidecar
 * (bench/RESULTS.md §4b), so src/server/reflection.ts imports this module on the first reflection call.
 *
 * What it serves: driver + health with the proto's own field names (the serving definition
 * camel-cases them for JavaScript) and map entries named as protoc names them, so grpcurl can
 * describe every message.
 */
export function reflectionMethods(): Map<string, ReflectionMethod> {
  const definition = withProtocDescriptors(protoLoader.loadSync([DRIVER_PROTO, healthProtoPath], { ...loaderOptions, keepCase: true }));
  const methods = new Map<string, ReflectionMethod>();
  // ReflectionService only calls addService: this records what it would register instead of serving it.
  const recorder = {
    addService(service: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation) {
      for (const [name, method] of Object.entries(service)) {
        methods.set(method.path, { definition: method, handler: implementation[name] as ReflectionMethod['handler'] });
      }
    },
  };
  new ReflectionService(definition).addToServer(recorder as unknown as grpc.Server);
  return methods;
}
