import { LiveSecrets, MIN_SECRET_LENGTH, REDACTED } from '../../../src/observability/live-secrets.js';
import { mcmSafe } from '../../../src/server/message-hygiene.js';

const secretData = {
  token: Buffer.from('tok-[123456]'),
  'serviceaccount.json': Buffer.from(JSON.stringify({ credentials: { privateKey: '-----BEGIN KEY-----\nPRIVATEKEYMATERIAL-LINE-1\n-----END KEY-----' } })),
  userData: Buffer.from('#cloud-config\npassword: hunter2-long\n'),
  short: Buffer.from('abc'),
};

test('every Secret value, every string inside a JSON value and every line of a long value is redacted', () => {
  const live = new LiveSecrets();
  live.holdSecretData(secretData);
  const out = live.redact('failed with tok-[123456] and PRIVATEKEYMATERIAL-LINE-1; userData #cloud-config\npassword: hunter2-long\n; abc stays');
  expect(out).not.toContain('tok-[123456]');
  expect(out).not.toContain('PRIVATEKEYMATERIAL');
  expect(out).not.toContain('hunter2-long');
  expect(out).toContain('abc stays');
});

test('redaction before mcmSafe catches a value with brackets; the other order would not', () => {
  const live = new LiveSecrets();
  live.holdSecretData(secretData);
  expect(mcmSafe(live.redact('echo: tok-[123456]'))).toBe(`echo: ${REDACTED}`);
  expect(live.redact(mcmSafe('echo: tok-[123456]'))).toContain('tok-(123456)'); // why the order matters
});

test('encoded forms: base64 (alone, unpadded, url-safe and inside a longer base64 text), URL- and form-encoded, JSON-escaped', () => {
  const live = new LiveSecrets();
  const value = 'pa ss/w+rd="x"&y';
  live.hold([value]);
  const b = Buffer.from(value);
  for (const prefix of ['', 'a', 'ab', 'abc']) {
    const embedded = Buffer.concat([Buffer.from(`#cloud-config\n${prefix}`), b, Buffer.from('\nmore: text\n')]).toString('base64');
    expect(live.redact(embedded)).toContain(REDACTED);
  }
  for (const form of [b.toString('base64'), b.toString('base64url'), encodeURIComponent(value), new URLSearchParams({ v: value }).toString().slice(2), JSON.stringify(value)]) {
    expect(live.redact(`x ${form} y`)).not.toContain(form.replace(/^"|"$/g, ''));
  }
});

test(`values shorter than ${MIN_SECRET_LENGTH} characters are not redacted (documented), longer ones are`, () => {
  const live = new LiveSecrets();
  live.hold(['12345', '123456']);
  expect(live.redact('a 12345 b')).toBe('a 12345 b');
  expect(live.redact('a 123456 b')).toBe(`a ${REDACTED} b`);
});

test('a value stays live while anyone holds it and goes when the last holder releases it', () => {
  const live = new LiveSecrets();
  const first = live.hold(['shared-token-1']);
  const second = live.hold(['shared-token-1']);
  first();
  first(); // releasing twice is harmless
  expect(live.redact('shared-token-1')).toBe(REDACTED);
  second();
  expect(live.redact('shared-token-1')).toBe('shared-token-1');
  expect(live.size).toBe(0);
});
