import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { InvalidInputError } from './machine-error.js';

// ajv-formats is CommonJS with `exports.default`; NodeNext types the default import as the module object.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

// verbose: errors carry their parentSchema, so a combinator can say in words
// (its `x-error`) what `must match exactly one schema in oneOf` means.
const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true, verbose: true });
addFormats(ajv);
ajv.addKeyword({ keyword: 'x-error', schemaType: 'string' });

const COMBINATORS = new Set(['oneOf', 'anyOf', 'not', 'if', 'propertyNames']);

export type Validator<T> = ValidateFunction<T>;

export function compileSchema<T>(schema: object): Validator<T> {
  // A cloud's schema file is read before its adapter is loaded (providers/index.ts) and imported again by the adapter:
  // the same $id with the same content is one schema, compiled once.
  const id = (schema as { $id?: unknown }).$id;
  const known = typeof id === 'string' ? ajv.getSchema<T>(id) : undefined;
  if (known && JSON.stringify(known.schema) === JSON.stringify(schema)) return known;
  return ajv.compile<T>(schema);
}

/**
 * The part of a providerSpec schema that calls on existing VMs (SessionPurpose
 * 'manage') rely on: only `fields`, with their own constraints and
 * requiredness; every other field may be anything, so a create-only field a
 * later version refuses never blocks delete, status or list.
 */
export function compileManageSchema<T>(schema: object, fields: readonly string[]): Validator<T> {
  const full = schema as { $defs?: object; properties?: Record<string, unknown>; required?: string[]; type?: unknown };
  const properties = Object.fromEntries(fields.filter((f) => full.properties?.[f] !== undefined).map((f) => [f, full.properties![f]]));
  return ajv.compile<T>({
    type: full.type,
    properties,
    required: (full.required ?? []).filter((f) => fields.includes(f)),
    ...(full.$defs ? { $defs: full.$defs } : {}),
  });
}

/**
 * Runs a schema and throws one InvalidInputError listing every problem, each
 * as `<root><path>: <reason>`. Reasons come from ajv and never quote the
 * offending value, so a bad secret is named, not shown.
 */
export function assertValid<T>(validate: Validator<T>, data: unknown, root: string): asserts data is T {
  if (validate(data)) return;
  throw new InvalidInputError(describeErrors(validate.errors ?? [], root));
}

/**
 * One problem in a validated document. `segments` is the path of the value
 * at fault (for a missing field: the field that should be there); `keyName`
 * is set when the fault is a field's name rather than its value.
 */
export interface SchemaProblem {
  segments: string[];
  keyName?: string;
  reason: string;
}

export function describeErrors(errors: readonly ErrorObject[], root: string): string[] {
  return [...new Set(schemaProblems(errors).map((p) => `${root}${segmentsToPath(p.segments)}: ${p.reason}`))];
}

/** ajv's errors as SchemaProblems: combinators with an `x-error` speak for their branches; without one, their branches speak. */
export function schemaProblems(errors: readonly ErrorObject[]): SchemaProblem[] {
  const explained = errors.filter((e) => COMBINATORS.has(e.keyword) && e.keyword !== 'propertyNames' && hint(e));
  const covered = (e: ErrorObject) =>
    explained.some((c) => c !== e && e.schemaPath.startsWith(combinatorPath(c)) && e.instancePath.startsWith(c.instancePath));
  return (
    errors
      .filter((e) => !covered(e))
      // Errors inside propertyNames are summed up by the propertyNames error itself.
      .filter((e) => e.propertyName === undefined)
      .filter((e) => !COMBINATORS.has(e.keyword) || hint(e) || e.keyword === 'propertyNames')
      .map(toProblem)
  );
}

function hint(e: ErrorObject): string | undefined {
  const h = (e.parentSchema as Record<string, unknown> | undefined)?.['x-error'];
  return typeof h === 'string' ? h : undefined;
}

/** `#/properties/labels/propertyNames` for a propertyNames error, `#/oneOf` for a oneOf error. */
function combinatorPath(e: ErrorObject): string {
  return e.schemaPath.endsWith(`/${e.keyword}`) ? e.schemaPath : `${e.schemaPath}/`;
}

function toProblem(e: ErrorObject): SchemaProblem {
  const segments = pointerSegments(e.instancePath);
  switch (e.keyword) {
    case 'additionalProperties': {
      const name = String(e.params.additionalProperty);
      return { segments, keyName: name, reason: `unknown field "${name}"` };
    }
    case 'required':
      return { segments: [...segments, String(e.params.missingProperty)], reason: 'is required' };
    case 'propertyNames': {
      const name = String(e.params.propertyName);
      const why = (e.schema as Record<string, unknown> | undefined)?.['x-error'];
      return { segments, keyName: name, reason: `field name "${name}" is invalid${typeof why === 'string' ? `: ${why}` : ''}` };
    }
    case 'type': {
      // A nullable option: null means unset, so say what a set value must be.
      const types = Array.isArray(e.params.type) ? (e.params.type as string[]) : String(e.params.type).split(',');
      const set = types.filter((t) => t !== 'null');
      return { segments, reason: hint(e) ?? `must be ${set.join(' or ')}${set.length < types.length ? ' (or null for unset)' : ''}` };
    }
    default:
      return { segments, reason: hint(e) ?? e.message ?? e.keyword };
  }
}

export function pointerSegments(pointer: string): string[] {
  if (!pointer) return [];
  return pointer
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** `["bootVolume","source","id"]` → `.bootVolume.source.id`, `["volumes","0"]` → `.volumes[0]`. */
export function segmentsToPath(segments: readonly string[]): string {
  return segments.map((seg) => (/^\d+$/.test(seg) ? `[${seg}]` : /^[A-Za-z_][\w-]*$/.test(seg) ? `.${seg}` : `["${seg}"]`)).join('');
}

/** `/bootVolume/source/id` → `.bootVolume.source.id`, `/volumes/0` → `.volumes[0]`. */
export function pointerToPath(pointer: string): string {
  return segmentsToPath(pointerSegments(pointer));
}
