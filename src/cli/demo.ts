import { startStackitFake } from '../../test/fakes/stackit/index.js';
import { machineCodeName } from '../driver/codes.js';
import { MachineDriver } from '../driver/machine-driver.js';
import { setLogLevel } from '../observability/logger.js';
import { defaultProviders } from '../providers/index.js';
import { DriverServiceClient, isDriverCallError } from '../server/driver-client.js';
import { startSidecar } from '../server/sidecar.js';

const PROJECT = '5a1b2c3d-0000-4000-8000-00000000abcd';
const NAMESPACE = 'shoot--demo--cluster';

/**
 * `mcm-driver demo`: the sidecar against the embedded fake STACKIT, driven in
 * MCM's call order by the same gRPC client the tests use. No credentials, no
 * network beyond 127.0.0.1.
 */
export async function runDemo(): Promise<void> {
  setLogLevel(process.env.LOG_LEVEL ?? 'error');
  const fake = await startStackitFake({ activeAfterMs: 400 });
  const driver = new MachineDriver(defaultProviders({ stackit: { iaasEndpoint: fake.url } }), { pollIntervalMs: 100 });
  const sidecar = await startSidecar({ listen: '127.0.0.1:0', httpListen: '127.0.0.1:0', driver });
  const client = new DriverServiceClient(sidecar.grpcTarget);
  const say = (text: string) => console.log(text);
  const fakeState = () =>
    fake
      .servers()
      .map((s) => `${s.name}=${s.status}`)
      .join(', ') || 'no servers';

  const machineClass = {
    metadata: { name: 'demo-class', namespace: NAMESPACE },
    provider: 'STACKIT',
    providerSpec: {
      region: 'eu01',
      machineType: 'c2i.2',
      imageId: '0b5f7e4c-1b7a-4c1e-9b65-2d0c9c1e7a11',
      networking: { networkId: '7c1d3e2f-5a6b-4c8d-9e0f-1a2b3c4d5e6f' },
      bootVolume: { size: 50, performanceClass: 'storage_premium_perf1', source: { type: 'image', id: '0b5f7e4c-1b7a-4c1e-9b65-2d0c9c1e7a11' } },
    },
  };
  const secretData = { 'project-id': Buffer.from(PROJECT), token: Buffer.from('fake-static-token'), userData: Buffer.from('#cloud-config\n') };
  const machine = (providerID = '') => ({ metadata: { name: 'demo-machine-1', namespace: NAMESPACE }, spec: { providerID } });
  const req = (providerID = '', cls: object = machineClass) => ({
    machine: Buffer.from(JSON.stringify(machine(providerID))),
    machineClass: Buffer.from(JSON.stringify(cls)),
    secretData,
  });
  const step = async (title: string, run: () => Promise<unknown>) => {
    process.stdout.write(`\n▶ ${title}\n`);
    try {
      const res = await run();
      say(`  OK ${JSON.stringify(res)}`);
      return res as Record<string, unknown>;
    } catch (err) {
      if (!isDriverCallError(err)) throw err;
      say(`  ${machineCodeName(err.code)} (${err.code}): ${err.details}`);
      return undefined;
    } finally {
      say(`  fake cloud: ${fakeState()}`);
    }
  };

  try {
    say(`sidecar on ${sidecar.grpcTarget} (metrics ${sidecar.httpUrl}/metrics), fake STACKIT on ${fake.url}`);
    await step('GetMachineStatus: MCM asks first; no VM yet, so NotFound', () => client.call('GetMachineStatus', req()));
    const created = await step('CreateMachine: creates the server and waits until ACTIVE', () => client.call('CreateMachine', req()));
    const providerId = String(created?.providerId ?? '');
    await step('CreateMachine again: adopts the same server, no second VM', () => client.call('CreateMachine', req()));
    await step('InitializeMachine', () => client.call('InitializeMachine', req(providerId)));
    await step('GetMachineStatus with the providerID', () => client.call('GetMachineStatus', req(providerId)));
    await step('ListMachines: this class and cluster only', () =>
      client.call('ListMachines', { machineClass: Buffer.from(JSON.stringify(machineClass)), secretData }),
    );
    await step('CreateMachine with a bad providerSpec: every problem at once', () =>
      client.call('CreateMachine', req('', { ...machineClass, providerSpec: { region: 'EU 1', machineTyp: 'c2i.2', networking: {}, bootVolume: { source: { type: 'image', id: 'nope' } } } })),
    );
    await step('DeleteMachine', () => client.call('DeleteMachine', req(providerId)));
    const last = await step('GetMachineStatus after delete: NotFound', () => client.call('GetMachineStatus', req(providerId)));
    say(last === undefined && fake.servers().length === 0 ? '\n✔ machine created, listed and deleted' : '\n✘ unexpected end state');
    if (last !== undefined || fake.servers().length !== 0) process.exitCode = 1;
  } finally {
    client.close();
    await sidecar.shutdown();
    await fake.close();
  }
}
