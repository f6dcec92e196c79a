import type { PackageDefinition } from '@grpc/proto-loader';
import descriptor from 'protobufjs/ext/descriptor/index.js';

type Descriptor = {
  name?: string;
  field?: Array<{ name?: string; typeName?: string }>;
  nestedType?: Descriptor[];
  options?: { mapEntry?: boolean };
  reservedRange?: Array<{ start?: number; end?: number }>;
};
type FileDescriptor = { messageType?: Descriptor[] };

const FileDescriptorProto = (descriptor as unknown as { FileDescriptorProto: { decode(b: Uint8Array): FileDescriptor; encode(m: FileDescriptor): { finish(): Uint8Array }; fromObject(o: object): FileDescriptor } }).FileDescriptorProto;

/**
 * protobufjs writes two things into descriptors that protoc would not, and
 * grpcurl (any protobuf-go client) rejects both: a map field's entry type
 * named after the field (`SecretData`, not `SecretDataEntry`), and reserved
 * ranges with an inclusive end (`reserved 3` as 3..3, not 3..4). This rewrites
 * the served file descriptors so reflection describes the proto as protoc does.
 */
export function withProtocDescriptors(definition: PackageDefinition): PackageDefinition {
  const fixed = new Map<Buffer, Buffer>();
  const fix = (bytes: Buffer): Buffer => {
    let out = fixed.get(bytes);
    if (!out) {
      const file = FileDescriptorProto.decode(bytes);
      (file.messageType ?? []).forEach(normalise);
      out = Buffer.from(FileDescriptorProto.encode(file).finish());
      fixed.set(bytes, out);
    }
    return out;
  };
  const result: PackageDefinition = {};
  for (const [name, def] of Object.entries(definition)) {
    const withFiles = def as { fileDescriptorProtos?: Buffer[] };
    result[name] = withFiles.fileDescriptorProtos ? { ...def, fileDescriptorProtos: withFiles.fileDescriptorProtos.map(fix) } as typeof def : def;
  }
  return result;
}

function normalise(message: Descriptor): void {
  // protobufjs stores reserved ranges inclusive and copies them as they are; descriptors want the end exclusive.
  for (const range of message.reservedRange ?? []) range.end = (range.end ?? range.start ?? 0) + 1;
  for (const nested of message.nestedType ?? []) {
    if (nested.options?.mapEntry) {
      const field = message.field?.find((f) => f.typeName === nested.name);
      if (field?.name) {
        const entry = `${camel(field.name)}Entry`;
        field.typeName = entry;
        nested.name = entry;
      }
    }
    normalise(nested);
  }
}

/** protobuf's rule: `secret_data` → `SecretData`. */
function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()).replace(/^[a-z]/, (c) => c.toUpperCase());
}
