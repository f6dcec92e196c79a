// A failure at each create step (clone, the driver's wait for the clone, create, start, running wait): what the
// call made is kept for the next one (a boot drive named in lastKnownState and by its boot-drive name; a
// server by its markers), nothing is removed after a failure except what can never be used (a broken
// clone), and the next CreateMachine converges to exactly one running server with one boot drive.
// Against the fake behind `prism proxy specs/cloudsigma.yaml --errors`.
import { MachineCode } from '../../src/driver/codes.js';
import type { DriverCallError } from '../../src/server/driver-client.js';
import { CloudSigmaHarness, LOCATION, callError, leftoversOf, waitFor, type Status } from '../support/cloudsigma-harness.js';

let h: CloudSigmaHarness;

beforeAll(async () => {
  h = await CloudSigmaHarness.start();
});
afterAll(async () => {
  await h.close();
});
beforeEach(async () => {
  h.fake.reset();
  await h.useDefaults();
});

const CLONE = { method: 'POST', path: /^\/api\/2\.0\/libdrives\/[^/]+\/action\/$/, query: { do: 'clone' } };
const CREATE = { method: 'POST', path: /^\/api\/2\.0\/servers\/$/ };
const START = { method: 'POST', path: /^\/api\/2\.0\/servers\/[^/]+\/action\/$/, query: { do: 'start' } };
const GET_DRIVE = { method: 'GET', path: /^\/api\/2\.0\/drives\/[0-9a-f-]{36}\/$/ };
const GET_SERVER = { method: 'GET', path: /^\/api\/2\.0\/servers\/[0-9a-f-]{36}\/$/ };
const DELETE_SERVER = { method: 'DELETE', path: /^\/api\/2\.0\/servers\/[0-9a-f-]{36}\/$/ };

/** The next CreateMachine (with what MCM stored from the failed one) ends with one running server and one boot drive. */
async function convergesToOne(harness: CloudSigmaHarness, name: string, failed?: DriverCallError): Promise<Status> {
  const lastKnownState = failed ? String(failed.response?.lastKnownState ?? '') : '';
  const ok = await harness.client.call<Status>('CreateMachine', harness.request(name, { lastKnownState }));
  const servers = harness.serversOf();
  expect(servers).toHaveLength(1);
  expect(servers[0]!.status).toBe('running');
  expect(ok.providerId).toBe(`cloudsigma://${servers[0]!.uuid}`);
  const drives = harness.drivesOf();
  expect(drives).toHaveLength(1);
  expect(servers[0]!.drives.map((d) => d.drive)).toEqual([drives[0]!.uuid]);
  return ok;
}

/** Nothing is left once the deletions the driver started have finished (CloudSigma deletes asynchronously). */
async function nothingLeft(): Promise<void> {
  await waitFor(() => h.serversOf().length === 0 && h.drivesOf().length === 0, 5_000).catch(() => undefined);
  expect(h.serversOf()).toHaveLength(0);
  expect(h.drivesOf()).toHaveLength(0);
}

describe('step 1: clone the boot drive', () => {
  test('refused (402): nothing is made, ResourceExhausted; the next call converges', async () => {
    h.fake.injectFault({ ...CLONE, status: 402, body: [{ error_type: 'billing', error_message: 'Not enough funds', error_point: null }] });
    const err = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-c1')));
    expect(err.code).toBe(MachineCode.ResourceExhausted);
    expect(err.details).toContain('Not enough funds');
    await nothingLeft();
    expect(h.createRequests()).toHaveLength(0);
    await convergesToOne(h, 'alpha-worker-z1-c1', err);
  });

  test('a 503 (nothing cloned): Unavailable, not repeated; the next call converges', async () => {
    h.fake.injectFault({ ...CLONE, status: 503 });
    const err = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-c2')));
    expect(err.code).toBe(MachineCode.Unavailable);
    expect(h.cloneRequests()).toHaveLength(1);
    await nothingLeft();
    await convergesToOne(h, 'alpha-worker-z1-c2', err);
    expect(h.cloneRequests()).toHaveLength(2);
  });
});

describe('step 2: wait until the clone is ready', () => {
  test('the clone turns unavailable while the driver waits: the next poll sees it, removes the broken drive, Unavailable saying so; the next call clones anew and converges', async () => {
    h.fake.setTiming({ cloneAfterMs: 60_000 });
    const pending = callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-w1')));
    await waitFor(() => h.drivesOf().length === 1);
    const broken = h.drivesOf()[0]!.uuid;
    h.fake.setDriveStatus(broken, 'unavailable');
    const err = await pending;
    expect(err.code).toBe(MachineCode.Unavailable);
    expect(err.details).toContain(`drive ${broken} is unavailable`);
    expect(err.details).toContain('it is removed and the next CreateMachine clones a new one');
    expect(h.serversOf()).toHaveLength(0);
    await waitFor(() => h.drivesOf().length === 0);
    // Second attempt: its clone is made ready by hand (the fake's clones take a minute here).
    const next = h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-w1', { lastKnownState: String(err.response?.lastKnownState ?? '') }));
    await waitFor(() => h.drivesOf().some((d) => d.uuid !== broken));
    h.fake.setDriveStatus(h.drivesOf().find((d) => d.uuid !== broken)!.uuid, 'unmounted');
    await next;
    expect(h.serversOf()).toHaveLength(1);
    await waitFor(() => h.drivesOf().length === 1);
    expect(h.drivesOf()[0]!.uuid).not.toBe(broken);
    expect(h.cloneRequests()).toHaveLength(2);
  });

  test('reading the drive fails: the error and lastKnownState name the kept drive; the next call continues with it', async () => {
    h.fake.injectFault({ ...GET_DRIVE, status: 500, times: 50 });
    const err = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-w2')));
    h.fake.clearFaults();
    expect(err.code).toBe(MachineCode.Unavailable);
    const [drive] = h.drivesOf();
    const state = leftoversOf(err);
    expect(state.cloudsigma).toEqual({ location: LOCATION, step: 'prepare boot drive', leftDrives: [drive!.uuid] });
    // No VM request went out, so no create intent holds the next call back.
    expect(String(err.response?.lastKnownState)).not.toContain('createIntent');
    expect(h.serversOf()).toHaveLength(0);
    await convergesToOne(h, 'alpha-worker-z1-w2', err);
    // The next call used the drive the first one cloned instead of cloning another.
    expect(h.cloneRequests()).toHaveLength(1);
    expect(h.drivesOf()[0]!.uuid).toBe(drive!.uuid);
  });

  test('a clone slower than the driver\'s create timeout: the driver waits, then DeadlineExceeded naming the drive, no server requested; the next call continues with the same drive (one clone)', async () => {
    h.fake.setTiming({ cloneAfterMs: 1_200 });
    // The adapter has no wait of its own any more: the driver's createTimeoutMs bounds the clone wait.
    await h.use({ timings: { createTimeoutMs: 300 } });
    const started = Date.now();
    const err = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-w3')));
    expect(err.code).toBe(MachineCode.DeadlineExceeded);
    // The driver polled (its 50 ms interval) up to its deadline rather than answering at once.
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    expect(err.details).toContain('boot drive clone of machine alpha-worker-z1-w3 did not finish');
    const [drive] = h.drivesOf();
    expect(h.drivesOf()).toHaveLength(1);
    expect(leftoversOf(err).cloudsigma?.leftDrives).toEqual([drive!.uuid]);
    // No server request went out, so no create intent is held back for the next call.
    expect(String(err.response?.lastKnownState)).not.toContain('createIntent');
    expect(h.createRequests()).toHaveLength(0);
    // MCM's next call (5 s later) carries the lastKnownState: while the clone runs it waits again, then continues.
    const again = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-w3', { lastKnownState: String(err.response?.lastKnownState ?? '') })));
    expect(again.code).toBe(MachineCode.DeadlineExceeded);
    expect(h.cloneRequests()).toHaveLength(1);
    await waitFor(() => h.drivesOf()[0]?.status === 'unmounted');
    await h.useDefaults();
    await convergesToOne(h, 'alpha-worker-z1-w3', again);
    expect(h.cloneRequests()).toHaveLength(1);
    expect(h.createRequests()).toHaveLength(1);
    expect(h.serversOf()[0]!.drives.map((d) => d.drive)).toContain(drive!.uuid);
  });

  test('a clone slower than one poll but inside the create timeout: one CreateMachine waits for it and finishes (one clone, one server)', async () => {
    h.fake.setTiming({ cloneAfterMs: 400 });
    const status = await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-w4'));
    expect(status.providerId).toMatch(/^cloudsigma:\/\//);
    expect(h.cloneRequests()).toHaveLength(1);
    expect(h.createRequests()).toHaveLength(1);
  });
});

describe('step 3: create the server', () => {
  test('refused (400, needs a human): InvalidArgument with the cloud message, no create intent; the driver removes the cloned drive (releaseMachine); the next call converges', async () => {
    h.fake.injectFault({ ...CREATE, status: 400, body: [{ error_type: 'validation', error_message: 'VLAN does not exist', error_point: 'nics' }] });
    const err = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-s1')));
    expect(err.code).toBe(MachineCode.InvalidArgument);
    expect(err.details).toContain('VLAN does not exist');
    expect(err.response?.lastKnownState ?? '').toBe('');
    await nothingLeft();
    await convergesToOne(h, 'alpha-worker-z1-s1', err);
  });

  test('refused for no capacity (503, a retry may do): ResourceExhausted; the cloned drive is kept, named in lastKnownState, and the next call reuses it (one clone)', async () => {
    h.fake.injectFault({ ...CREATE, status: 503, body: [{ error_type: 'concurrency', error_message: 'We currently cannot provide enough resources', error_point: null }] });
    const err = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-s2')));
    expect(err.code).toBe(MachineCode.ResourceExhausted);
    const [drive] = h.drivesOf();
    expect(h.serversOf()).toHaveLength(0);
    expect(leftoversOf(err).cloudsigma).toEqual({ location: LOCATION, step: 'create server', leftDrives: [drive!.uuid] });
    expect(String(err.response?.lastKnownState)).not.toContain('createIntent');
    await convergesToOne(h, 'alpha-worker-z1-s2', err);
    expect(h.cloneRequests()).toHaveLength(1);
    expect(h.drivesOf()[0]!.uuid).toBe(drive!.uuid);
  });

  test('refused for no capacity, then the Machine is deleted: DeleteMachine removes the kept boot drive (nothing leaks)', async () => {
    h.fake.injectFault({ ...CREATE, status: 503, body: [{ error_type: 'concurrency', error_message: 'We currently cannot provide enough resources', error_point: null }] });
    await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-s5')));
    expect(h.drivesOf()).toHaveLength(1);
    await h.client.call('DeleteMachine', h.request('alpha-worker-z1-s5'));
    await nothingLeft();
  });

  test('a 500 (the server may exist): Unavailable naming the outstanding create, no second create inside the discovery window; then the kept drive is used, no second clone', async () => {
    const w = await CloudSigmaHarness.start({ timings: { discoveryWindowMs: 1_000 } });
    try {
      w.fake.injectFault({ ...CREATE, status: 500 });
      const err = await callError(w.client.call('CreateMachine', w.request('alpha-worker-z1-s3')));
      expect(err.code).toBe(MachineCode.Unavailable);
      expect(w.createRequests()).toHaveLength(1);
      expect(w.serversOf()).toHaveLength(0);
      const [drive] = w.drivesOf();
      expect(leftoversOf(err).cloudsigma).toMatchObject({ step: 'create server', leftDrives: [drive!.uuid] });
      expect(String(err.response?.lastKnownState)).toContain('createIntent');
      // MCM's next call, 5 s later in a cluster: the server is not visible, and the driver cannot tell it was never made.
      const again = await callError(w.client.call('CreateMachine', w.request('alpha-worker-z1-s3', { lastKnownState: String(err.response?.lastKnownState ?? '') })));
      expect(again.code).toBe(MachineCode.Unavailable);
      expect(again.details).toContain('no second create is sent before');
      expect(w.createRequests()).toHaveLength(1);
      await new Promise((r) => setTimeout(r, 1_100));
      await convergesToOne(w, 'alpha-worker-z1-s3', err);
      expect(w.cloneRequests()).toHaveLength(1);
    } finally {
      await w.close();
    }
  });

  test('a create that times out while the cloud still makes the server: the drive is kept, the next call adopts the server', async () => {
    await h.use({ httpTimeoutMs: 1_500 });
    h.fake.injectFault({ ...CREATE, delayMs: 3_500 });
    const err = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-s4')));
    expect(err.code).toBe(MachineCode.DeadlineExceeded);
    await waitFor(() => h.serversOf().length === 1);
    const ok = await convergesToOne(h, 'alpha-worker-z1-s4', err);
    expect(h.createRequests()).toHaveLength(1);
    expect(ok.providerId).toBe(`cloudsigma://${h.serversOf()[0]!.uuid}`);
  });
});

describe('step 4: start the server (the driver\'s step: session.start)', () => {
  test('refused for lack of funds (402): ResourceExhausted, the stopped server is kept (named in lastKnownState); MCM’s next GetMachineStatus says Uninitialized and InitializeMachine starts it', async () => {
    h.fake.injectFault({ ...START, status: 402, body: [{ error_type: 'billing', error_message: 'Not enough funds for 5 days of burst usage', error_point: null }] });
    const err = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-t1')));
    expect(err.code).toBe(MachineCode.ResourceExhausted);
    expect(err.details).toContain('Not enough funds');
    const [server] = h.serversOf();
    expect(h.serversOf()).toHaveLength(1);
    expect(server!.status).toBe('stopped');
    expect(h.drivesOf()).toHaveLength(1);
    expect(h.apiRequests('DELETE', /\/servers\//)).toHaveLength(0);
    expect(leftoversOf(err).providerId).toBe(`cloudsigma://${server!.uuid}`);

    // What MCM does next: GetMachineStatus (empty providerID) → Uninitialized with the response filled → InitializeMachine.
    const status = await callError(h.client.call('GetMachineStatus', h.request('alpha-worker-z1-t1')));
    expect(status.code).toBe(MachineCode.Uninitialized);
    expect(status.response).toMatchObject({ providerId: `cloudsigma://${server!.uuid}`, nodeName: 'alpha-worker-z1-t1' });
    const init = await h.client.call<Status>('InitializeMachine', h.request('alpha-worker-z1-t1', { providerID: `cloudsigma://${server!.uuid}` }));
    expect(init.providerId).toBe(`cloudsigma://${server!.uuid}`);
    await waitFor(() => h.serversOf()[0]?.status === 'running');
    const ok = await h.client.call<Status>('GetMachineStatus', h.request('alpha-worker-z1-t1', { providerID: init.providerId }));
    expect(ok.providerId).toBe(init.providerId);
    expect(h.serversOf()).toHaveLength(1);
    expect(h.drivesOf()).toHaveLength(1);
    expect(h.createRequests()).toHaveLength(1);
  });

  test('a lost start answer is retried (start creates nothing); the retry meets a starting server (400), the driver reads the server, sees it starting, and the server runs', async () => {
    h.fake.injectFault({ ...START, afterSuccess: 'drop' });
    await h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-t2'));
    expect(h.serversOf()).toHaveLength(1);
    expect(h.serversOf()[0]!.status).toBe('running');
    expect(h.apiRequests('POST', /\/servers\/[^/]+\/action\/$/, { do: 'start' }).length).toBeGreaterThanOrEqual(2);
    expect(h.createRequests()).toHaveLength(1);
  });

  test('the same kept server: a direct next CreateMachine adopts the stopped server and starts it', async () => {
    h.fake.injectFault({ ...START, status: 402 });
    const err = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-t4')));
    expect(leftoversOf(err).providerId).toBe(`cloudsigma://${h.serversOf()[0]!.uuid}`);
    h.fake.clearFaults();
    const ok = await convergesToOne(h, 'alpha-worker-z1-t4', err);
    expect(ok.providerId).toBe(leftoversOf(err).providerId);
    expect(h.createRequests()).toHaveLength(1);
  });

  test('start fails with 5xx beyond the retries: Unavailable, the server is kept stopped and never deleted; the next call adopts and starts it (one server)', async () => {
    h.fake.injectFault({ ...START, status: 503, times: 5 });
    const err = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-t5')));
    expect(err.code).toBe(MachineCode.Unavailable);
    expect(h.serversOf()[0]!.status).toBe('stopped');
    expect(h.apiRequests('DELETE', /\/servers\//)).toHaveLength(0);
    h.fake.clearFaults();
    await convergesToOne(h, 'alpha-worker-z1-t5', err);
    expect(h.createRequests()).toHaveLength(1);
  });
});

describe('step 5: wait until the server runs', () => {
  test('reading the server fails: Unavailable naming it, the server is kept and the next call adopts it', async () => {
    h.fake.injectFault({ ...GET_SERVER, status: 500, times: 50 });
    const err = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-r1')));
    h.fake.clearFaults();
    expect(err.code).toBe(MachineCode.Unavailable);
    const [server] = h.serversOf();
    expect(leftoversOf(err).providerId).toBe(`cloudsigma://${server!.uuid}`);
    await convergesToOne(h, 'alpha-worker-z1-r1', err);
    expect(h.createRequests()).toHaveLength(1);
  });

  test('not running in time: DeadlineExceeded, the server is kept and adopted next time', async () => {
    h.fake.setTiming({ runningAfterMs: 1_200 });
    await h.use({ timings: { createTimeoutMs: 300 } });
    const err = await callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-r2')));
    expect(err.code).toBe(MachineCode.DeadlineExceeded);
    await waitFor(() => h.serversOf()[0]?.status === 'running');
    await convergesToOne(h, 'alpha-worker-z1-r2', err);
    expect(h.createRequests()).toHaveLength(1);
  });

  test('the server ends up paused (dead): it is stopped and deleted with its drive, Internal; the next call makes a new one', async () => {
    h.fake.setTiming({ runningAfterMs: 60_000 });
    const pending = callError(h.client.call('CreateMachine', h.request('alpha-worker-z1-r3')));
    await waitFor(() => h.serversOf()[0]?.status === 'starting');
    const first = h.serversOf()[0]!.uuid;
    h.fake.setServerStatus(first, 'paused');
    const err = await pending;
    expect(err.code).toBe(MachineCode.Internal);
    expect(err.details).toContain('paused');
    await waitFor(() => h.serversOf().length === 0 && h.drivesOf().length === 0);
    const next = h.client.call<Status>('CreateMachine', h.request('alpha-worker-z1-r3'));
    await waitFor(() => h.serversOf()[0]?.status === 'starting');
    h.fake.setServerStatus(h.serversOf()[0]!.uuid, 'running');
    const ok = await next;
    expect(ok.providerId).not.toBe(`cloudsigma://${first}`);
    expect(h.serversOf()).toHaveLength(1);
    expect(h.drivesOf()).toHaveLength(1);
  });
});

test('a leftover boot drive from a crashed attempt (no lastKnownState) is found by its name and used', async () => {
  const name = 'alpha-worker-z1-crash';
  const drive = h.fake.seedDrive({ owner: 'alice@example.com', name: `mcm:shoot--garden--alpha:${name}:boot`, size: 10 * 1024 ** 3 });
  const stale = h.fake.seedDrive({ owner: 'alice@example.com', name: `mcm:shoot--garden--alpha:${name}:boot`, status: 'unavailable' });
  const unrelated = h.fake.seedDrive({ owner: 'alice@example.com', name: `mcm:shoot--garden--beta:${name}:boot` });
  await h.client.call<Status>('CreateMachine', h.request(name));
  const [server] = h.serversOf();
  expect(h.serversOf()).toHaveLength(1);
  expect(server!.drives.map((d) => d.drive)).toEqual([drive.uuid]);
  expect(h.cloneRequests()).toHaveLength(0);
  const left = h.drivesOf().map((d) => d.uuid);
  expect(left).not.toContain(stale.uuid);
  expect(left).toContain(unrelated.uuid);
});
