import * as grpc from '@grpc/grpc-js';
import { protoRoot } from './proto.js';

export const STATUS_DETAILS_KEY = 'grpc-status-details-bin';

const Status = () => protoRoot().lookupType('google.rpc.Status');
// protobufjs's built-in Any keeps the proto field name `type_url`.
const Any = () => protoRoot().lookupType('google.protobuf.Any');

/**
 * The gRPC rich error model: `grpc-status-details-bin` holds a google.rpc.Status
 * whose details carry `response` (a message of `typeName`) packed in Any, so
 * the bridge can hand MCM the response together with the error.
 */
export function statusDetails(code: number, message: string, typeName: string, response: object): grpc.Metadata {
  const type = protoRoot().lookupType(typeName);
  const any = Any().create({ type_url: `type.googleapis.com/${typeName}`, value: type.encode(type.fromObject(response)).finish() });
  const status = Status().encode(Status().fromObject({ code, message, details: [any] })).finish();
  const md = new grpc.Metadata();
  md.set(STATUS_DETAILS_KEY, Buffer.from(status));
  return md;
}

export interface DecodedStatus {
  code: number;
  message: string;
  details: Array<{ typeName: string; value: Record<string, unknown> }>;
}

/** Reads `grpc-status-details-bin` back (tests, and anything else that wants it). */
export function decodeStatusDetails(md: grpc.Metadata | undefined): DecodedStatus | undefined {
  const raw = md?.get(STATUS_DETAILS_KEY)[0];
  if (!raw || typeof raw === 'string') return undefined;
  const status = Status().toObject(Status().decode(raw), { defaults: true }) as { code: number; message: string; details: Array<{ type_url: string; value: Uint8Array }> };
  return {
    code: status.code,
    message: status.message,
    details: status.details.map((d) => {
      const typeName = d.type_url.replace(/^.*\//, '');
      const type = protoRoot().lookupType(typeName);
      return { typeName, value: type.toObject(type.decode(d.value), { defaults: true, arrays: true, objects: true }) as Record<string, unknown> };
    }),
  };
}
