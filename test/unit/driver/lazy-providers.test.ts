import { jest } from '@jest/globals';
import type { CloudProvider } from '../../../src/driver/provider.js';

/**
 * Each cloud's adapter module is imported when a class of that cloud first
 * arrives. The adapter modules are replaced by ones that record each import
 * of them (jest runs a mocked module's factory per import); the registry,
 * the schema files and the loading are the real ones.
 */
const evaluated: string[] = [];
const stub = (name: string) =>
  class implements CloudProvider {
    readonly name = name;
    async open(): Promise<never> {
      throw new Error(`${name} stub`);
    }
    volumeId(pv: Record<string, unknown>): string | undefined {
      return (pv as { csi?: { driver?: string; volumeHandle?: string } }).csi?.driver === name ? 'vol-1' : undefined;
    }
  };
jest.unstable_mockModule('../../../src/providers/stackit/stackit-provider.js', () => {
  evaluated.push('STACKIT');
  return { StackitProvider: stub('STACKIT') };
});
jest.unstable_mockModule('../../../src/providers/cloudsigma/cloudsigma-provider.js', () => {
  evaluated.push('CloudSigma');
  return { CloudSigmaProvider: stub('CloudSigma') };
});
jest.unstable_mockModule('../../../src/providers/vpsie/vpsie-provider.js', () => {
  evaluated.push('VPSie');
  return { VpsieProvider: stub('VPSie') };
});

const { defaultProviders } = await import('../../../src/providers/index.js');
const { loadAllProviders } = await import('../../../src/driver/provider-registry.js');
const cls = { name: 'c', namespace: 'ns', provider: 'CloudSigma', providerSpec: {} };

test('no adapter module is evaluated until a class of its cloud arrives; then only that one', async () => {
  const registry = defaultProviders();
  expect(evaluated).toEqual([]);
  expect(registry.names()).toEqual(['STACKIT', 'CloudSigma', 'VPSie']);
  expect(registry.find('cloudsigma')?.name).toBe('CloudSigma');
  expect(registry.loadedNames()).toEqual([]);
  expect(evaluated).toEqual([]);

  await expect(registry.find('cloudsigma')!.open(cls, {}, 'manage')).rejects.toThrow('CloudSigma stub');
  expect(evaluated).toEqual(['CloudSigma']);
  expect(registry.loadedNames()).toEqual(['CloudSigma']);
});

test('schemas are there without loading an adapter (mcm-driver schema / validate), read from the adapter’s own files', () => {
  const registry = defaultProviders();
  const before = [...evaluated];
  const schemas = registry.find('STACKIT')!.schemas!;
  expect(schemas.providerSpec).toHaveProperty('properties.region');
  expect(schemas.secret).toHaveProperty('properties.project-id');
  expect(registry.find('VPSie')!.schemas!.providerSpec).toHaveProperty('properties');
  expect(evaluated).toEqual(before);
});

test('matching PVs loads every adapter first (GetVolumeIDs), and not before', async () => {
  const registry = defaultProviders();
  expect(() => registry.find('STACKIT')!.volumeId({})).toThrow(/not loaded/);
  await loadAllProviders();
  expect(new Set(evaluated)).toEqual(new Set(['CloudSigma', 'STACKIT', 'VPSie']));
  expect(registry.find('STACKIT')!.volumeId({ csi: { driver: 'STACKIT' } })).toBe('vol-1');
  expect(registry.loadedNames()).toEqual(['STACKIT', 'CloudSigma', 'VPSie']);
});
