import { InvalidInputError } from './machine-error.js';
import type { MachineClassRef, MachineRef } from './provider.js';

/**
 * Reads the Machine and MachineClass JSON MCM sends. TypeMeta may be empty and
 * the orphan stub carries only name, namespace and spec.providerID, so only
 * those and the class's provider/providerSpec are read. Every problem is
 * collected before failing.
 */
export function parseMachine(bytes: Uint8Array | undefined, problems: string[]): MachineRef {
  const obj = parseJsonObject(bytes, 'machine', problems);
  const name = str(obj, ['metadata', 'name']);
  if (!name) problems.push('machine.metadata.name: is required');
  return {
    name,
    namespace: str(obj, ['metadata', 'namespace']),
    providerId: str(obj, ['spec', 'providerID']),
    lastKnownState: str(obj, ['status', 'lastKnownState']),
  };
}

export function parseMachineClass(bytes: Uint8Array | undefined, problems: string[]): MachineClassRef {
  const obj = parseJsonObject(bytes, 'machineClass', problems);
  const name = str(obj, ['metadata', 'name']);
  if (!name && !problems.some((p) => p.startsWith('machineClass:'))) problems.push('machineClass.metadata.name: is required');
  return {
    name,
    namespace: str(obj, ['metadata', 'namespace']),
    provider: str(obj, ['provider']),
    providerSpec: obj['providerSpec'],
  };
}

/**
 * The same request bytes are read twice per RPC (once to name the call in
 * logs and metrics, once to serve it): parse each buffer once.
 */
const parsed = new WeakMap<Uint8Array, { value: unknown; problems: string[] }>();

function once<T>(bytes: Uint8Array | undefined, problems: string[], parse: (b: Uint8Array | undefined, p: string[]) => T): T {
  if (!bytes) return parse(bytes, problems);
  let hit = parsed.get(bytes);
  if (!hit) {
    const own: string[] = [];
    hit = { value: parse(bytes, own), problems: own };
    parsed.set(bytes, hit);
  }
  problems.push(...hit.problems);
  return hit.value as T;
}

export function readMachine(bytes: Uint8Array | undefined, problems: string[]): MachineRef {
  return once(bytes, problems, parseMachine);
}

export function readMachineClass(bytes: Uint8Array | undefined, problems: string[]): MachineClassRef {
  return once(bytes, problems, parseMachineClass);
}

export function throwIfProblems(problems: string[]): void {
  if (problems.length > 0) throw new InvalidInputError(problems);
}

function parseJsonObject(bytes: Uint8Array | undefined, field: string, problems: string[]): Record<string, unknown> {
  if (!bytes || bytes.length === 0) {
    problems.push(`${field}: is required`);
    return {};
  }
  try {
    // A view, not Buffer.from(bytes): that copies the request bytes first.
    const value: unknown = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
    if (isObject(value)) return value;
    problems.push(`${field}: must be a JSON object`);
  } catch {
    problems.push(`${field}: is not valid JSON`);
  }
  return {};
}

function str(obj: Record<string, unknown>, path: string[]): string {
  let cur: unknown = obj;
  for (const key of path) {
    if (!isObject(cur)) return '';
    cur = cur[key];
  }
  return typeof cur === 'string' ? cur : '';
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
