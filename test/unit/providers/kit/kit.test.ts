import { pollUntil } from '../../../../src/driver/poll.js';
import { ClientCache, collect, decodeSecret, firstSet } from '../../../../src/providers/kit/index.js';
import { InvalidInputError } from '../../../../src/driver/machine-error.js';

test('ClientCache makes a client once per key and drops the least recently used beyond its bound', () => {
  const cache = new ClientCache<{ key: string }>(2);
  let made = 0;
  const get = (key: string) => cache.get(key, () => ((made += 1), { key }));
  const a = get('a');
  get('b');
  expect(get('a')).toBe(a); // used again: now the most recent
  get('c'); // drops b
  expect(cache.size).toBe(2);
  expect(made).toBe(3);
  get('b');
  expect(made).toBe(4);
  expect(get('c').key).toBe('c');
  expect(made).toBe(4);
});

test('firstSet skips unset and empty values', () => {
  expect(firstSet(undefined, '', 'https://x', 'https://y')).toBe('https://x');
  expect(firstSet(undefined, '')).toBeUndefined();
});

test('collect keeps every problem and passes other errors through', () => {
  const problems: string[] = [];
  expect(collect(problems, () => { throw new InvalidInputError(['a: bad', 'b: bad']); })).toBe(false);
  expect(collect(problems, () => undefined)).toBe(true);
  expect(problems).toEqual(['a: bad', 'b: bad']);
  expect(() => collect(problems, () => { throw new Error('bug'); })).toThrow('bug');
});

test('decodeSecret turns bytes into text', () => {
  expect(decodeSecret({ token: Buffer.from('t0k') })).toEqual({ token: 't0k' });
});

test('pollUntil (the driver\'s one polling helper) answers the value once done, or the last value at the deadline', async () => {
  let n = 0;
  const signal = new AbortController().signal;
  expect(await pollUntil(async () => ++n, (v) => v >= 3, { intervalMs: 5, deadline: Date.now() + 1_000, signal })).toEqual({ value: 3, done: true });
  const slow = await pollUntil(async () => 'still', () => false, { intervalMs: 5, deadline: Date.now() + 30, signal });
  expect(slow).toEqual({ value: 'still', done: false });
});
