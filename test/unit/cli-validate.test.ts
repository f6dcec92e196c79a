import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSchemas } from '../../src/cli/schema.js';
import { validateFiles } from '../../src/cli/validate.js';
import { compileSchema } from '../../src/driver/validation.js';
import { defaultProviders } from '../../src/providers/index.js';
import { packageRoot } from '../../src/support/package-root.js';
import { parse } from 'yaml';

const fixture = (name: string) => join(packageRoot, 'test/fixtures/validate', name);
const providers = defaultProviders();

test('every seeded mistake is found at its line and column, with its path and reason', async () => {
  const findings = await validateFiles([fixture('broken-class.yaml'), fixture('missing-key.yaml'), fixture('syntax-error.yaml')], providers);
  const at = (file: string, line: number) => findings.filter((f) => f.file.endsWith(file) && f.line === line).map((f) => `${f.path}: ${f.message}`);
  // typo'd field
  expect(at('broken-class.yaml', 20)).toContain('providerSpec: unknown field "machineTyp"');
  // bad UUID
  expect(at('broken-class.yaml', 23)).toContain('providerSpec.imageId: must be a lowercase UUID');
  expect(findings.find((f) => f.path === 'providerSpec.imageId')?.column).toBe(12);
  // wrong type
  expect(at('broken-class.yaml', 25)).toContain('providerSpec.bootVolume.size: must be integer (or null for unset)');
  // the Secret it references, cross-checked
  expect(at('broken-class.yaml', 7)).toContain('stringData.project-id: must be a lowercase UUID');
  // missing secret keys
  expect(at('missing-key.yaml', 7)).toEqual(
    expect.arrayContaining(['stringData.project-id: is required', 'stringData: exactly one of serviceaccount.json (key flow) or token (token flow) is required']),
  );
  // YAML syntax error
  expect(at('syntax-error.yaml', 7)).toEqual([': YAML syntax error: Map keys must be unique']);
});

test('every sample validates; the CLI exits 0 for them and 1 with JSON findings for the broken corpus', () => {
  const cli = (args: string[]) => {
    try {
      return { code: 0, out: execFileSync(process.execPath, ['--import', 'tsx', join(packageRoot, 'src/cli/main.ts'), ...args], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } }) };
    } catch (err) {
      const e = err as { status: number; stdout: string };
      return { code: e.status, out: e.stdout };
    }
  };
  const samples = readdirSync(join(packageRoot, 'samples')).flatMap((cloud) =>
    readdirSync(join(packageRoot, 'samples', cloud)).map((f) => join(packageRoot, 'samples', cloud, f)),
  );
  expect(cli(['validate', ...samples])).toMatchObject({ code: 0 });
  const broken = cli(['validate', '--output', 'json', fixture('broken-class.yaml')]);
  expect(broken.code).toBe(1);
  const findings = JSON.parse(broken.out) as Array<{ line: number; path: string }>;
  expect(findings.map((f) => f.path)).toEqual(expect.arrayContaining(['providerSpec.imageId', 'providerSpec.bootVolume.size']));
});

test('the editor schemas accept the samples and reject the typo', () => {
  const out = mkdtempSync(join(tmpdir(), 'schemas-'));
  writeSchemas(providers, { out });
  const machineClass = compileSchema(JSON.parse(readFileSync(join(out, 'stackit-machine-class.schema.json'), 'utf8')));
  expect(machineClass(parse(readFileSync(join(packageRoot, 'samples/stackit/machine-class.yaml'), 'utf8')))).toBe(true);
  const broken = parse(readFileSync(fixture('missing-key.yaml'), 'utf8').split('---')[1]!) as { providerSpec: Record<string, unknown> };
  broken.providerSpec['machineTyp'] = 'x';
  expect(machineClass(broken)).toBe(false);
  expect(readdirSync(out)).toEqual(expect.arrayContaining(['stackit-machine-class.schema.json', 'stackit-provider-spec.schema.json', 'stackit-secret.schema.json']));
});
