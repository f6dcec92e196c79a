import { mcmSafe, secretRedactor } from '../../../src/server/message-hygiene.js';

test('brackets, which break MCM’s error parsing, become parentheses', () => {
  expect(mcmSafe('volumes[0]: must match "^[a-z]$"')).toBe('volumes(0): must match "^(a-z)$"');
  expect(mcmSafe('line one\n  line two')).toBe('line one line two');
});

test('every Secret value, and every string inside a JSON value, is redacted', () => {
  const redact = secretRedactor({
    token: Buffer.from('tok-123456'),
    'serviceaccount.json': Buffer.from(JSON.stringify({ credentials: { privateKey: 'PRIVATEKEYMATERIAL' } })),
    userData: Buffer.from('#cloud-config\nwrite_files: secret-line-that-is-long\n'),
    short: Buffer.from('abc'),
  });
  const out = redact('failed with tok-123456 and PRIVATEKEYMATERIAL; userData write_files: secret-line-that-is-long; abc stays');
  expect(out).not.toContain('tok-123456');
  expect(out).not.toContain('PRIVATEKEYMATERIAL');
  expect(out).not.toContain('secret-line-that-is-long');
  expect(out).toContain('abc stays');
});
