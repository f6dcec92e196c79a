import { jest } from '@jest/globals';
import { LiveSecrets, liveSecrets } from '../../../src/observability/live-secrets.js';
import { logger } from '../../../src/observability/logger.js';

const secret = (token: string) => ({ token: Buffer.from(token), 'project-id': Buffer.from('project-naming-only') });

describe('live secrets held per call, encoded once per Secret', () => {
  test('one call at a time: a value is redacted while held, not after; another Secret in between is its own', () => {
    const live = new LiveSecrets();
    const release1 = live.holdSecretData(secret('alpha-token-111111'));
    expect(live.redact('x alpha-token-111111 y')).toBe('x <redacted> y');
    release1();
    expect(live.redact('x alpha-token-111111 y')).toBe('x alpha-token-111111 y');
    const release2 = live.holdSecretData(secret('beta-token-2222222'));
    expect(live.redact('alpha-token-111111 beta-token-2222222')).toBe('alpha-token-111111 <redacted>');
    release2();
    const release3 = live.holdSecretData(secret('alpha-token-111111'));
    expect(live.redact('alpha-token-111111 beta-token-2222222 YWxwaGEtdG9rZW4tMTExMTEx')).toBe('<redacted> beta-token-2222222 <redacted>');
    release3();
    expect(live.size).toBe(0);
  });

  test('overlapping calls with one Secret: it stays live until the last call releases it', () => {
    const live = new LiveSecrets();
    const a = live.holdSecretData(secret('gamma-token-333333'));
    const b = live.holdSecretData(secret('gamma-token-333333'));
    a();
    expect(live.redact('gamma-token-333333')).toBe('<redacted>');
    b();
    expect(live.redact('gamma-token-333333')).toBe('gamma-token-333333');
  });

  test('JSON Secret values still have their inner strings held (a key file’s private key)', () => {
    const live = new LiveSecrets();
    const key = JSON.stringify({ credentials: { privateKey: 'inner-private-key-material-44' } });
    const release = live.holdSecretData({ 'serviceaccount.json': Buffer.from(key) });
    expect(live.redact('got inner-private-key-material-44')).toBe('got <redacted>');
    release();
  });
});

describe('a log line whose level is off', () => {
  afterEach(() => {
    logger.level = 'info';
    jest.restoreAllMocks();
  });

  test('does not run the format chain (context, JSON, redaction); an enabled one does', () => {
    logger.level = 'info';
    const redact = jest.spyOn(liveSecrets, 'redact');
    logger.debug('cloud request', { cloud: 'stackit' });
    logger.log('debug', 'cloud request', { cloud: 'stackit' });
    expect(redact).not.toHaveBeenCalled();
    logger.info('rpc', { code: 'OK' });
    expect(redact).toHaveBeenCalledTimes(1);
    logger.level = 'debug';
    logger.debug('cloud request', { cloud: 'stackit' });
    expect(redact).toHaveBeenCalledTimes(2);
  });
});
