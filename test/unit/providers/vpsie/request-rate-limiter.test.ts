import { RequestRateLimiter } from '../../../../src/providers/vpsie/request-rate-limiter.js';

test('the bucket gives its burst at once, then one token per 60/perMinute seconds, in arrival order', async () => {
  let now = 0;
  const limiter = new RequestRateLimiter(60_000, 2, () => now);
  await limiter.take();
  await limiter.take();
  const order: number[] = [];
  const third = limiter.take().then(() => order.push(3));
  const fourth = limiter.take().then(() => order.push(4));
  await new Promise((r) => setTimeout(r, 5));
  expect(order).toEqual([]);
  now = 2; // two tokens' worth at 1000 a second
  await Promise.all([third, fourth]);
  expect(order).toEqual([3, 4]);
});

test('an aborted waiter is answered at once, with its abort reason, even behind others', async () => {
  const limiter = new RequestRateLimiter(1, 1); // one a minute: every waiter after the first waits a minute or more
  await limiter.take();
  const aheadController = new AbortController();
  const ahead = limiter.take(aheadController.signal);
  const controller = new AbortController();
  const behind = limiter.take(controller.signal);
  const reason = new Error('the driver sidecar is shutting down');
  const started = Date.now();
  controller.abort(reason);
  await expect(behind).rejects.toBe(reason);
  expect(Date.now() - started).toBeLessThan(1_000);
  // The one ahead is still waiting for its token; ending it ends its timer too.
  let aheadSettled = false;
  void ahead.catch(() => undefined).finally(() => (aheadSettled = true));
  await new Promise((r) => setTimeout(r, 20));
  expect(aheadSettled).toBe(false);
  aheadController.abort(new Error('done'));
  await expect(ahead).rejects.toThrow('done');
});

test('an already aborted signal is refused without waiting', async () => {
  const limiter = new RequestRateLimiter(1, 1);
  await limiter.take();
  const controller = new AbortController();
  controller.abort(new Error('gone'));
  await expect(limiter.take(controller.signal)).rejects.toThrow('gone');
});
