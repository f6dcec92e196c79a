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
  return ajv.compile<T>(schema);
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

export function describeErrors(errors: readonly ErrorObject[], root: string): string[] {
  // A combinator with an `x-error` speaks for its branches; without one, its branches speak.
  const explained = errors.filter((e) => COMBINATORS.has(e.keyword) && e.keyword !== 'propertyNames' && hint(e));
  const covered = (e: ErrorObject) =>
    explained.some((c) => c !== e && e.schemaPath.startsWith(combinatorPath(c)) && e.instancePath.startsWith(c.instancePath));
  const problems = errors
    .filter((e) => !covered(e))
    // Errors inside propertyNames are summed up by the propertyNames error itself.
    .filter((e) => e.propertyName === undefined)
    .filter((e) => !COMBINATORS.has(e.keyword) || hint(e) || e.keyword === 'propertyNames')
    .map((e) => describeError(e, root));
  return [...new Set(problems)];
}

function hint(e: ErrorObject): string | undefined {
  const h = (e.parentSchema as Record<string, unknown> | undefined)?.['x-error'];
  return typeof h === 'string' ? h : undefined;
}

/** `#/properties/labels/propertyNames` for a propertyNames error, `#/oneOf` for a oneOf error. */
function combinatorPath(e: ErrorObject): string {
  return e.schemaPath.endsWith(`/${e.keyword}`) ? e.schemaPath : `${e.schemaPath}/`;
}

function describeError(e: ErrorObject, root: string): string {
  const at = root + pointerToPath(e.instancePath);
  switch (e.keyword) {
    case 'additionalProperties':
      return `${at}: unknown field "${String(e.params.additionalProperty)}"`;
    case 'required':
      return `${at}${at ? '.' : ''}${String(e.params.missingProperty)}: is required`;
    case 'propertyNames':
    {
      const why = (e.schema as Record<string, unknown> | undefined)?.['x-error'];
      return `${at}: field name "${String(e.params.propertyName)}" is invalid${typeof why === 'string' ? `: ${why}` : ''}`;
    }
    default:
      return `${at || root}: ${hint(e) ?? e.message ?? e.keyword}`;
  }
}

/** `/bootVolume/source/id` → `.bootVolume.source.id`, `/volumes/0` → `.volumes[0]`. */
export function pointerToPath(pointer: string): string {
  if (!pointer) return '';
  return pointer
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((seg) => (/^\d+$/.test(seg) ? `[${seg}]` : /^[A-Za-z_][\w-]*$/.test(seg) ? `.${seg}` : `["${seg}"]`))
    .join('');
}
