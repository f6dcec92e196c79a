import { readFileSync } from 'node:fs';
import { isMap, isScalar, LineCounter, parseAllDocuments, type Document, type Node, type YAMLMap } from 'yaml';
import { isInvalidInputError } from '../driver/machine-error.js';
import type { CloudProvider, SecretData } from '../driver/provider.js';
import type { ProviderRegistry } from '../driver/provider-registry.js';
import { compileSchema, schemaProblems, segmentsToPath, type Validator } from '../driver/validation.js';

/** One finding, pointing at the place in the file an author has to change. */
export interface Finding {
  file: string;
  line: number;
  column: number;
  /** The field, e.g. `providerSpec.bootVolume.size` or `stringData.project-id`. */
  path: string;
  message: string;
  /** Which MachineClass or Secret it is about. */
  object?: string;
}

interface Loaded {
  file: string;
  doc: Document.Parsed;
  lines: LineCounter;
  value: Record<string, unknown>;
}

/**
 * `mcm-driver validate`: MachineClass and Secret YAML checked offline with the
 * same schemas (and the same provider checks) the sidecar applies, every
 * problem with file, line and column. A MachineClass is cross-checked with
 * the Secret(s) it references when those are among the files.
 */
export async function validateFiles(files: readonly string[], providers: ProviderRegistry): Promise<Finding[]> {
  const findings: Finding[] = [];
  const docs: Loaded[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      findings.push({ file, line: 0, column: 0, path: '', message: `cannot read: ${(err as Error).message}` });
      continue;
    }
    const lines = new LineCounter();
    for (const doc of parseAllDocuments(text, { lineCounter: lines, prettyErrors: false })) {
      if (!('errors' in doc)) continue;
      for (const e of doc.errors) {
        const pos = lines.linePos(e.pos[0]);
        findings.push({ file, line: pos.line, column: pos.col, path: '', message: `YAML syntax error: ${e.message.split('\n')[0]}` });
      }
      if (doc.errors.length > 0) continue;
      const value = doc.toJS() as unknown;
      if (value && typeof value === 'object' && !Array.isArray(value)) docs.push({ file, doc, lines, value: value as Record<string, unknown> });
    }
  }
  const secrets = docs.filter((d) => d.value['kind'] === 'Secret');
  for (const cls of docs.filter((d) => d.value['kind'] === 'MachineClass')) {
    findings.push(...(await checkMachineClass(cls, secrets, providers)));
  }
  const order = (f: Finding) => files.indexOf(f.file);
  const unique = [...new Map(findings.map((f) => [`${f.file}:${f.line}:${f.column}:${f.path}:${f.message}`, f])).values()];
  return unique.sort((a, b) => order(a) - order(b) || a.line - b.line || a.column - b.column);
}

async function checkMachineClass(cls: Loaded, secrets: Loaded[], providers: ProviderRegistry): Promise<Finding[]> {
  const name = String((cls.value['metadata'] as { name?: unknown } | undefined)?.name ?? '?');
  const object = `MachineClass ${name}`;
  const at = (segments: string[], message: string, keyName?: string): Finding => ({ ...locate(cls, segments, keyName), path: segmentsToPath(segments).replace(/^\./, ''), message, object });
  const providerName = String(cls.value['provider'] ?? '');
  const provider = providers.find(providerName);
  if (!provider) return [at(['provider'], `"${providerName}" is not served by this driver, expected one of ${providers.names().join(', ')}`)];

  const findings: Finding[] = [];
  const { providerSpec: specSchema, secret: secretSchema } = schemasOf(provider);
  for (const p of run(specSchema, cls.value['providerSpec'])) findings.push(at(['providerSpec', ...p.segments], p.reason, p.keyName));

  // The Secret(s) it names, merged as MCM merges them (credentialsSecretRef wins).
  const refs = ['secretRef', 'credentialsSecretRef']
    .map((k) => cls.value[k] as { name?: string; namespace?: string } | undefined)
    .filter((r): r is { name: string; namespace?: string } => !!r?.name);
  const found = refs.map((r) => secrets.find((s) => matches(s, r)));
  const merged: Record<string, string> = {};
  const origin = new Map<string, Loaded>();
  found.forEach((s) => {
    for (const [k, v] of Object.entries(secretData(s))) {
      merged[k] = v;
      origin.set(k, s!);
    }
  });
  const secretDocs = found.filter((s): s is Loaded => !!s);
  const secretName = (d: Loaded) => String((d.value['metadata'] as { name?: unknown } | undefined)?.name ?? '?');
  if (secretDocs.length > 0) {
    for (const p of run(secretSchema, merged)) {
      const key = p.segments[0];
      const doc = (key !== undefined ? origin.get(key) : undefined) ?? secretDocs[secretDocs.length - 1]!;
      const field = (key !== undefined && has(doc, 'data', key)) || !('stringData' in doc.value) ? 'data' : 'stringData';
      findings.push({
        ...locate(doc, [field, ...p.segments], p.keyName),
        path: `${field}${segmentsToPath(p.segments)}`,
        message: p.reason,
        object: `Secret ${secretName(doc)} (for ${object})`,
      });
    }
  }
  // The provider's checks beyond the schemas (names, key files, ...), made as the sidecar makes them; they need the Secret.
  if (findings.length === 0 && secretDocs.length > 0) {
    const meta = (cls.value['metadata'] ?? {}) as { name?: string; namespace?: string };
    const data: SecretData = Object.fromEntries(Object.entries(merged).map(([k, v]) => [k, Buffer.from(v)]));
    try {
      await provider.open({ name: meta.name ?? '', namespace: meta.namespace ?? '', provider: providerName, providerSpec: cls.value['providerSpec'] }, data, 'create');
    } catch (err) {
      if (!isInvalidInputError(err)) throw err;
      for (const problem of err.problems) findings.push({ ...locate(cls, []), path: '', message: problem, object });
    }
  }
  return findings;
}

function has(doc: Loaded, field: 'data' | 'stringData', key: string): boolean {
  const map = doc.value[field] as Record<string, unknown> | undefined;
  return map !== undefined && key in map;
}

const validators = new WeakMap<object, Validator<unknown>>();

function run(schema: object, data: unknown) {
  let validate = validators.get(schema);
  if (!validate) {
    validate = compileSchema(schema);
    validators.set(schema, validate);
  }
  return validate(data) ? [] : schemaProblems(validate.errors ?? []);
}

function schemasOf(provider: CloudProvider): { providerSpec: object; secret: object } {
  return provider.schemas ?? { providerSpec: {}, secret: {} };
}

function matches(secret: Loaded, ref: { name: string; namespace?: string }): boolean {
  const meta = (secret.value['metadata'] ?? {}) as { name?: string; namespace?: string };
  return meta.name === ref.name && (!ref.namespace || !meta.namespace || meta.namespace === ref.namespace);
}

function secretData(secret: Loaded | undefined): Record<string, string> {
  if (!secret) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries((secret.value['data'] ?? {}) as Record<string, unknown>)) out[k] = Buffer.from(String(v), 'base64').toString('utf8');
  for (const [k, v] of Object.entries((secret.value['stringData'] ?? {}) as Record<string, unknown>)) out[k] = String(v);
  return out;
}

/** The line and column of the deepest node on the path that exists (the key itself when keyName is given). */
function locate(loaded: Loaded, segments: readonly string[], keyName?: string): { file: string; line: number; column: number } {
  let node: Node | undefined = loaded.doc.contents ?? undefined;
  let keyNode: Node | undefined;
  for (const seg of segments) {
    const next = childOf(node, seg);
    if (!next) break;
    keyNode = next.key;
    node = next.value;
  }
  if (keyName !== undefined) {
    const named = childOf(node, keyName);
    if (named?.key) keyNode = named.key;
    node = named?.key ?? node;
  }
  const target = keyName !== undefined ? node : (node ?? keyNode);
  const offset = target?.range?.[0] ?? 0;
  const pos = loaded.lines.linePos(offset);
  return { file: loaded.file, line: pos.line, column: pos.col };
}

function childOf(node: Node | undefined, seg: string): { key: Node | undefined; value: Node | undefined } | undefined {
  if (isMap(node)) {
    const pair = (node as YAMLMap<unknown, unknown>).items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === seg);
    return pair ? { key: pair.key as Node, value: (pair.value as Node | null) ?? (pair.key as Node) } : undefined;
  }
  if (node && 'items' in node && Array.isArray((node as { items: unknown[] }).items) && /^\d+$/.test(seg)) {
    const item = (node as { items: Node[] }).items[Number(seg)];
    return item ? { key: item, value: item } : undefined;
  }
  return undefined;
}

export function formatFindings(findings: readonly Finding[]): string {
  return findings.map((f) => `${f.file}:${f.line}:${f.column}: ${f.object ? `${f.object}: ` : ''}${f.path ? `${f.path}: ` : ''}${f.message}`).join('\n');
}
