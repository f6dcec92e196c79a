import { MachineCode } from '../../../../src/driver/codes.js';
import { createServerPayload, toVmRecord } from '../../../../src/providers/stackit/mapping.js';
import { formatProviderId, parseProviderId } from '../../../../src/providers/stackit/provider-id.js';

const P = '3f1c2a4b-5d6e-4f70-8a9b-0c1d2e3f4a5b';
const S = '11111111-2222-4333-8444-555555555555';
const cls = { name: 'cls', namespace: 'shoot--a--b', provider: 'STACKIT', providerSpec: {} };
const machine = { name: 'm-1', namespace: 'shoot--a--b', providerId: '', lastKnownState: '' };

test('providerIDs are STACKIT’s own format and parse back byte-identically', () => {
  const id = formatProviderId(P, S);
  expect(id).toBe(`stackit://${P}/${S}`);
  expect(parseProviderId(id)).toEqual({ projectId: P, serverId: S });
  for (const bad of [`stackit://${P}/${S}/`, `STACKIT://${P}/${S}`, `stackit://${P}`, `stackit://${P}/../x`, 'aws:///i-1']) {
    expect(() => parseProviderId(bad)).toThrow(/not a STACKIT provider ID/);
  }
});

test('user labels cannot override the markers; region stays out of the payload; userData is base64', () => {
  const payload = createServerPayload(
    { region: 'eu01', machineType: 't1.1', networking: { networkId: S }, labels: { 'kubernetes.io/machine': 'evil', team: 'x' } },
    machine,
    cls,
    Buffer.from('#cloud-config'),
  );
  expect(payload).not.toHaveProperty('region');
  expect(payload.labels).toEqual({ team: 'x', 'kubernetes.io/machine': 'm-1', 'kubernetes.io/machineclass': 'cls', 'mcm-grpc-driver.io/cluster': 'shoot--a--b' });
  expect(payload.userData).toBe(Buffer.from('#cloud-config').toString('base64'));
});

test('server states map to VM states, capacity errors to ResourceExhausted, NICs to addresses', () => {
  const base = { id: S, name: 'm-1', labels: { 'kubernetes.io/machine': 'm-1' } };
  expect(toVmRecord({ ...base, status: 'ACTIVE' }, P).state).toBe('running');
  expect(toVmRecord({ ...base, status: 'CREATING' }, P).state).toBe('creating');
  expect(toVmRecord({ ...base, status: 'SOMETHING-NEW' }, P).state).toBe('unknown');
  expect(toVmRecord({ ...base, status: 'DELETING' }, P).state).toBe('deleting');
  const failed = toVmRecord({ ...base, status: 'ERROR', errorMessage: 'No valid host was found' }, P);
  expect(failed).toMatchObject({ state: 'failed', failureCode: MachineCode.ResourceExhausted, machineName: 'm-1' });
  expect(toVmRecord({ ...base, status: 'ERROR', errorMessage: 'disk broke' }, P).failureCode).toBeUndefined();
  expect(toVmRecord({ ...base, status: 'ACTIVE', nics: [{ ipv4: '10.0.0.5', ipv6: 'fd00::5', publicIp: '192.0.2.5' }] }, P).addresses).toEqual([
    { type: 'InternalIP', address: '10.0.0.5' },
    { type: 'InternalIP', address: 'fd00::5' },
    { type: 'ExternalIP', address: '192.0.2.5' },
  ]);
});
