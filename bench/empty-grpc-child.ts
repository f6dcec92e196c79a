// The baseline of an RPC: a bare @grpc/grpc-js server in a process of its own with one unary method
// that answers an empty message at once (no protobuf schema, no logging, no metrics). Prints its port.
import * as grpc from '@grpc/grpc-js';

const identity = (b: Buffer) => b;
export const EMPTY_METHOD = {
  path: '/bench.Empty/Call',
  requestStream: false,
  responseStream: false,
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
} as const;

const server = new grpc.Server();
server.addService({ Call: EMPTY_METHOD } as unknown as grpc.ServiceDefinition, { Call: (_call: unknown, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.alloc(0)) });
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.send?.({ port });
});
