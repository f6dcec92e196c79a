import { mcmSafe } from '../../../src/server/message-hygiene.js';

test('brackets, which break MCM’s error parsing, become parentheses', () => {
  expect(mcmSafe('volumes[0]: must match "^[a-z]$"')).toBe('volumes(0): must match "^(a-z)$"');
  expect(mcmSafe('line one\n  line two')).toBe('line one line two');
});
