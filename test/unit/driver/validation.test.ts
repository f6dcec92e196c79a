import { compileSchema, describeErrors, pointerToPath } from '../../../src/driver/validation.js';
import specSchema from '../../../src/providers/stackit/provider-spec.schema.json' with { type: 'json' };

test('JSON pointers become readable field paths', () => {
  expect(pointerToPath('')).toBe('');
  expect(pointerToPath('/bootVolume/source/id')).toBe('.bootVolume.source.id');
  expect(pointerToPath('/volumes/0')).toBe('.volumes[0]');
  expect(pointerToPath('/labels/a~1b')).toBe('.labels["a/b"]');
});

test('every problem is reported at once, with its path, never with the offending value', () => {
  const validate = compileSchema(specSchema);
  expect(validate({ region: 'eu01', machineType: 'c2i.2', imageId: 'SECRET-LOOKING-VALUE', networking: { networkId: 'x' }, extra: 1 })).toBe(false);
  const problems = describeErrors(validate.errors ?? [], 'providerSpec');
  expect(problems).toEqual(
    expect.arrayContaining([
      'providerSpec.imageId: must be a lowercase UUID',
      'providerSpec.networking.networkId: must be a lowercase UUID',
      'providerSpec: unknown field "extra"',
    ]),
  );
  expect(problems.join(' ')).not.toContain('SECRET-LOOKING-VALUE');
});

test('a combinator with an x-error speaks in words instead of its branches', () => {
  const validate = compileSchema(specSchema);
  validate({ region: 'eu01', machineType: 'c2i.2', networking: { networkId: '7c1d3e2f-5a6b-4c8d-9e0f-1a2b3c4d5e6f' } });
  expect(describeErrors(validate.errors ?? [], 'providerSpec')).toEqual(['providerSpec: one of imageId or bootVolume is required']);
});
