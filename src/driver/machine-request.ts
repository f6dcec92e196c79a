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

export function throwIfProblems(problems: string[]): void {
  if (problems.length > 0) throw new InvalidInputError(problems);
}

function parseJsonObject(bytes: Uint8Array | undefined, field: string, problems: string[]): Record<string, unknown> {
  if (!bytes || bytes.length === 0) {
    problems.push(`${field}: is required`);
    return {};
  }
  try {
    const value: unknown = JSON.parse(Buffer.from(bytes).toString('utf8'));
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
