import { PassThrough } from 'node:stream';
import winston from 'winston';
import { liveSecrets } from '../../../src/observability/live-secrets.js';
import { logger, runWithRequestContext } from '../../../src/observability/logger.js';

/** The serialised lines logger writes (what its Console transport writes), read through an extra stream transport. */
function captureLines(): { lines: () => Array<Record<string, unknown>>; stop: () => void } {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c.toString()));
  const transport = new winston.transports.Stream({ stream });
  logger.add(transport);
  return {
    lines: () => chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>),
    stop: () => logger.remove(transport),
  };
}

test("a line inside a call carries the call's fields; a field the line sets itself wins; outside a call none", async () => {
  const capture = captureLines();
  try {
    const ctx = { requestId: 'req-1', method: 'GetMachineStatus', provider: 'STACKIT', machine: 'm-1' };
    runWithRequestContext(ctx, () => logger.info('rpc', { code: 'OK', machine: 'from-the-line' }));
    logger.info('outside');
    await new Promise((resolve) => setImmediate(resolve));
    const [inside, outside] = capture.lines();
    expect(inside).toMatchObject({ message: 'rpc', code: 'OK', requestId: 'req-1', method: 'GetMachineStatus', provider: 'STACKIT', machine: 'from-the-line', level: 'info' });
    expect(outside).toMatchObject({ message: 'outside' });
    expect(outside).not.toHaveProperty('requestId');
    expect(ctx).toEqual({ requestId: 'req-1', method: 'GetMachineStatus', provider: 'STACKIT', machine: 'm-1' });
  } finally {
    capture.stop();
  }
});

test('a live secret in a context field is redacted from the line', async () => {
  const capture = captureLines();
  const release = liveSecrets.holdSecretData({ token: Buffer.from('ctx-secret-value-778899') });
  try {
    runWithRequestContext({ requestId: 'r', method: 'm', machine: 'ctx-secret-value-778899' }, () => logger.warn('rpc'));
    await new Promise((resolve) => setImmediate(resolve));
    const [line] = capture.lines();
    expect(JSON.stringify(line)).not.toContain('ctx-secret-value-778899');
    expect(line).toMatchObject({ machine: '<redacted>' });
  } finally {
    release();
    capture.stop();
  }
});
