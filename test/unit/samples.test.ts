import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { MachineClassRef } from '../../src/driver/provider.js';
import { defaultProviders } from '../../src/providers/index.js';
import { packageRoot } from '../../src/support/package-root.js';

/** Samples cannot rot: every MachineClass validates with the Secret it names, through the provider itself. */

type Doc = { kind?: string; metadata?: { name?: string; namespace?: string }; [k: string]: unknown };

function docs(cloud: string): Doc[] {
  const dir = join(packageRoot, 'samples', cloud);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJS() as Doc));
}

const clouds = readdirSync(join(packageRoot, 'samples'));

describe.each(clouds)('samples/%s', (cloud) => {
  const all = docs(cloud);
  const secrets = new Map(all.filter((d) => d.kind === 'Secret').map((d) => [d.metadata?.name, d]));
  const classes = all.filter((d) => d.kind === 'MachineClass');

  test('has at least one MachineClass, one Secret and one MachineDeployment', () => {
    expect(classes.length).toBeGreaterThan(0);
    expect(secrets.size).toBeGreaterThan(0);
    expect(all.some((d) => d.kind === 'MachineDeployment')).toBe(true);
  });

  test.each(classes.map((c) => [c.metadata?.name ?? '?', c] as const))('MachineClass %s validates with its Secret', async (_name, cls) => {
    const ref = cls['secretRef'] as { name: string };
    const secret = secrets.get(ref.name) as { stringData?: Record<string, string> } | undefined;
    expect(secret).toBeDefined();
    const data = Object.fromEntries(Object.entries(secret!.stringData ?? {}).map(([k, v]) => [k, Buffer.from(v)]));
    const provider = defaultProviders().find(String(cls['provider']));
    expect(provider).toBeDefined();
    const machineClass: MachineClassRef = {
      name: cls.metadata!.name!,
      namespace: cls.metadata!.namespace!,
      provider: String(cls['provider']),
      providerSpec: cls['providerSpec'],
    };
    await expect(provider!.open(machineClass, data, 'create')).resolves.toBeDefined();
  });

  test('every MachineDeployment names a sample MachineClass', () => {
    for (const md of all.filter((d) => d.kind === 'MachineDeployment')) {
      const cls = (md['spec'] as { template: { spec: { class: { name: string } } } }).template.spec.class.name;
      expect(classes.map((c) => c.metadata?.name)).toContain(cls);
    }
  });
});
