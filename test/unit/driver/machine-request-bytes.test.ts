import { parseMachine, parseMachineClass } from '../../../src/driver/machine-request.js';

/**
 * grpc-js hands the request's bytes fields over as Buffers that may be views into one larger buffer
 * (the whole message); the parser reads exactly the field's bytes, without copying them first.
 */
test('a Machine read from a view into a larger buffer reads only its own bytes', () => {
  const machine = JSON.stringify({ metadata: { name: 'm-1', namespace: 'ns' }, spec: { providerID: 'stackit://p/1' } });
  const whole = Buffer.from(`garbage-before${machine}{"garbage":"after"}`);
  const view = whole.subarray('garbage-before'.length, 'garbage-before'.length + Buffer.byteLength(machine));
  const problems: string[] = [];
  expect(parseMachine(view, problems)).toEqual({ name: 'm-1', namespace: 'ns', providerId: 'stackit://p/1', lastKnownState: '' });
  expect(problems).toEqual([]);
});

test('a MachineClass given as a plain Uint8Array view (not a Buffer) is read the same', () => {
  const cls = new TextEncoder().encode(`xx${JSON.stringify({ metadata: { name: 'c', namespace: 'n' }, provider: 'STACKIT', providerSpec: { a: 1 } })}yy`);
  const view = new Uint8Array(cls.buffer, 2, cls.byteLength - 4);
  const problems: string[] = [];
  expect(parseMachineClass(view, problems)).toEqual({ name: 'c', namespace: 'n', provider: 'STACKIT', providerSpec: { a: 1 } });
  expect(problems).toEqual([]);
});

test('bytes that are not JSON name the field', () => {
  const problems: string[] = [];
  parseMachine(Buffer.from('not json').subarray(0, 5), problems);
  expect(problems).toContain('machine: is not valid JSON');
});
