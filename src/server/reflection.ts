import type * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { ReflectionService } from '@grpc/reflection';
import { DRIVER_PROTO, loaderOptions } from './proto.js';
import { withProtocDescriptors } from './reflection-descriptors.js';

/**
 * Server reflection (grpcurl's `list` / `describe`). It is a debugging aid nothing in the pod
 * calls, and @grpc/reflection with its descriptors is the most expensive import of the sidecar
 * (bench/RESULTS.md §4b), so src/server/sidecar.ts imports this module only once the server is
 * SERVING: the driver's start is not held up by it.
 *
 * What it serves: driver + health with the proto's own field names (the serving definition
 * camel-cases them for JavaScript) and map entries named as protoc names them, so grpcurl can
 * describe every message.
 */
export function addReflection(server: grpc.Server): void {
  const definition = withProtocDescriptors(protoLoader.loadSync([DRIVER_PROTO, healthProtoPath], { ...loaderOptions, keepCase: true }));
  new ReflectionService(definition).addToServer(server);
}
