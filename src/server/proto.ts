import { isAbsolute, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { packageRoot } from '../support/package-root.js';

export const PROTO_DIR = join(packageRoot, 'proto');
export const DRIVER_PROTO = join(PROTO_DIR, 'mcm/driver/v1/driver.proto');
export const STATUS_PROTO = join(PROTO_DIR, 'google/rpc/status.proto');
export const DRIVER_SERVICE = 'mcm.driver.v1.Driver';

export const loaderOptions: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  arrays: true,
  objects: true,
  includeDirs: [PROTO_DIR],
};

// The driver's contract only: grpc-health-check parses and serves its own health.proto.
export const packageDefinition = protoLoader.loadSync(DRIVER_PROTO, loaderOptions);

const loaded = grpc.loadPackageDefinition(packageDefinition) as unknown as {
  mcm: { driver: { v1: { Driver: grpc.ServiceClientConstructor } } };
};

export const DriverClient = loaded.mcm.driver.v1.Driver;
export const driverServiceDefinition = DriverClient.service;

let root: protobuf.Root | undefined;

/**
 * protobufjs types for the rich error model: google.rpc.Status with the response packed in Any.
 * Parsed on first use (the first error answer), not at start: a sidecar that answers OK never needs it.
 */
export function protoRoot(): protobuf.Root {
  if (root) return root;
  const fresh = new protobuf.Root();
  // Imports are relative to the proto folder; google/protobuf/* are protobufjs's built-in common types.
  fresh.resolvePath = (_origin, target) => (isAbsolute(target) || target.startsWith('google/protobuf/') ? target : join(PROTO_DIR, target));
  fresh.loadSync([DRIVER_PROTO, STATUS_PROTO], { keepCase: false });
  fresh.resolveAll();
  return (root = fresh);
}
