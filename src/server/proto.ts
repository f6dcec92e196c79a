import { isAbsolute, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import protobuf from 'protobufjs';
import { packageRoot } from '../support/package-root.js';
import { withProtocDescriptors } from './reflection-descriptors.js';

export const PROTO_DIR = join(packageRoot, 'proto');
export const DRIVER_PROTO = join(PROTO_DIR, 'mcm/driver/v1/driver.proto');
export const STATUS_PROTO = join(PROTO_DIR, 'google/rpc/status.proto');
export const DRIVER_SERVICE = 'mcm.driver.v1.Driver';

const loaderOptions: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  arrays: true,
  objects: true,
  includeDirs: [PROTO_DIR],
};

export const packageDefinition = protoLoader.loadSync([DRIVER_PROTO, healthProtoPath], loaderOptions);

/**
 * What server reflection serves: driver + health with the proto's own field
 * names (the serving definition camel-cases them for JavaScript) and map
 * entries named as protoc names them, so grpcurl can describe every message.
 */
export const reflectionPackageDefinition = withProtocDescriptors(
  protoLoader.loadSync([DRIVER_PROTO, healthProtoPath], { ...loaderOptions, keepCase: true }),
);

const loaded = grpc.loadPackageDefinition(packageDefinition) as unknown as {
  mcm: { driver: { v1: { Driver: grpc.ServiceClientConstructor } } };
};

export const DriverClient = loaded.mcm.driver.v1.Driver;
export const driverServiceDefinition = DriverClient.service;

/** protobufjs types for the rich error model: google.rpc.Status with the response packed in Any. */
export const protoRoot: protobuf.Root = (() => {
  const root = new protobuf.Root();
  // Imports are relative to the proto folder; google/protobuf/* are protobufjs's built-in common types.
  root.resolvePath = (_origin, target) => (isAbsolute(target) || target.startsWith('google/protobuf/') ? target : join(PROTO_DIR, target));
  root.loadSync([DRIVER_PROTO, STATUS_PROTO], { keepCase: false });
  root.resolveAll();
  return root;
})();
