import { formatRecord, parseRecord, RequestLedger } from '../../../../src/providers/vpsie/request-record.js';

const NOW = Date.parse('2026-08-21T10:00:00.000Z');

test('a request record round-trips through lastKnownState', () => {
  const text = formatRecord({ hostname: 'm-1', requestedAtMs: NOW - 5_000 });
  expect(JSON.parse(text)).toEqual({ state: 'create-requested', hostname: 'm-1', requestedAt: '2026-08-21T09:59:55.000Z' });
  expect(parseRecord(text, 'm-1', NOW)).toEqual({ hostname: 'm-1', requestedAtMs: NOW - 5_000 });
});

test('anything else is not a record: empty, the core format, another hostname, garbage, a time far in the future', () => {
  const at = (iso: string) => JSON.stringify({ state: 'create-requested', hostname: 'm-1', requestedAt: iso });
  for (const lks of [
    '',
    '{"providerId":"vpsie://x","state":"creating"}',
    formatRecord({ hostname: 'm-2', requestedAtMs: NOW }),
    'not json',
    'null',
    '[1]',
    at('yesterday'),
    at('2026-08-21T11:00:00.000Z'),
    JSON.stringify({ state: 'create-requested', hostname: 'm-1', requestedAt: 5 }),
  ]) {
    expect(parseRecord(lks, 'm-1', NOW)).toBeUndefined();
  }
  // A little clock skew between replicas is tolerated.
  expect(parseRecord(at('2026-08-21T10:00:30.000Z'), 'm-1', NOW)).toBeDefined();
});

test('the ledger remembers requests and forgets them after a day', () => {
  let now = NOW;
  const ledger = new RequestLedger(() => now);
  ledger.set('k', NOW);
  expect(ledger.get('k')).toBe(NOW);
  now += 23 * 3_600_000;
  expect(ledger.get('k')).toBe(NOW);
  now += 2 * 3_600_000;
  expect(ledger.get('k')).toBeUndefined();
  expect(ledger.size).toBe(0);
});
