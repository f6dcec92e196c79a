import { SingleFlight } from '../../../src/driver/single-flight.js';

const never = () => new AbortController().signal;

test('concurrent calls with one key share one execution', async () => {
  const flight = new SingleFlight<number>();
  let runs = 0;
  const work = async () => {
    runs += 1;
    await new Promise((r) => setTimeout(r, 20));
    return 42;
  };
  const results = await Promise.all(Array.from({ length: 10 }, () => flight.run('m1', never(), work)));
  expect(results).toEqual(Array(10).fill(42));
  expect(runs).toBe(1);
  expect(flight.size).toBe(0);
});

test('different keys run separately, and a finished key runs again', async () => {
  const flight = new SingleFlight<string>();
  let runs = 0;
  const work = async () => `${++runs}`;
  await Promise.all([flight.run('a', never(), work), flight.run('b', never(), work)]);
  await flight.run('a', never(), work);
  expect(runs).toBe(3);
});

test('one caller leaving does not cancel the work the others wait for', async () => {
  const flight = new SingleFlight<string>();
  let workSignal: AbortSignal | undefined;
  const work = async (signal: AbortSignal) => {
    workSignal = signal;
    await new Promise((r) => setTimeout(r, 50));
    return 'done';
  };
  const impatient = new AbortController();
  const first = flight.run('k', impatient.signal, work);
  const second = flight.run('k', never(), work);
  impatient.abort(new Error('gone'));
  await expect(first).rejects.toThrow('gone');
  await expect(second).resolves.toBe('done');
  expect(workSignal?.aborted).toBe(false);
});

test('when the last caller leaves, the work is aborted and that caller gets the work’s own answer', async () => {
  const flight = new SingleFlight<string>();
  const work = (signal: AbortSignal) =>
    new Promise<string>((_, reject) => signal.addEventListener('abort', () => reject(new Error(`stopped after: ${String((signal.reason as Error).message)}`))));
  const caller = new AbortController();
  const p = flight.run('k', caller.signal, work);
  caller.abort(new Error('deadline'));
  await expect(p).rejects.toThrow('stopped after: deadline');
});
