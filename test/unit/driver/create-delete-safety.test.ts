// MachineDriver's create and delete safety against an eventually consistent cloud (issue 12),
// on an in-memory cloud with the documented worst behaviours (support/memory-cloud.ts). Times are
// scaled by 1/10: a listing lag of 8 s is 800 ms, MCM's 5 s ShortRetry is 500 ms.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MachineCode } from '../../../src/driver/codes.js';
import type { MachineDriver } from '../../../src/driver/machine-driver.js';
import { isMachineError } from '../../../src/driver/machine-error.js';
import { CloudApiError } from '../../../src/http/cloud-api-error.js';
import { MemoryCloud, call } from './support/memory-cloud.js';

const SCALE = 0.1;
const LAG_8S = 8_000 * SCALE;
const MCM_RETRY_5S = 5_000 * SCALE;
const WINDOW = 20_000 * SCALE;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const never = () => new AbortController().signal;

/**
 * MCM's creation flow (machine.go triggerCreationFlow): GetMachineStatus; on NotFound CreateMachine;
 * an error's lastKnownState is kept for codes machineCreateErrorHandler keeps it for. With
 * `dropStatusUpdates`, every status update is lost (isMachineStatusSimilar judged it similar).
 */
async function mcmUntilRunning(driver: () => MachineDriver, machine: string, opts: { dropStatusUpdates?: boolean; maxPasses?: number } = {}) {
  let lastKnownState = '';
  const codes: number[] = [];
  for (let pass = 0; pass < (opts.maxPasses ?? 30); pass++) {
    try {
      const s = await driver().getMachineStatus(call(machine, { lastKnownState }), never());
      codes.push(0);
      return { providerId: s.providerId, codes };
    } catch (err) {
      if (!isMachineError(err)) throw err;
      codes.push(err.code);
      if (err.code === MachineCode.NotFound) {
        try {
          const s = await driver().createMachine(call(machine, { lastKnownState }), never());
          codes.push(0);
          return { providerId: s.providerId, codes };
        } catch (createErr) {
          if (!isMachineError(createErr)) throw createErr;
          codes.push(createErr.code);
          if (!opts.dropStatusUpdates && createErr.details.lastKnownState) lastKnownState = createErr.details.lastKnownState;
        }
      }
    }
    await sleep(MCM_RETRY_5S);
  }
  throw new Error(`machine ${machine} did not converge; codes ${codes.join(',')}`);
}

describe('an unknown create outcome', () => {
  test('lost create answer + listing lag 8 s + MCM retry every 5 s → exactly one VM', async () => {
    const cloud = new MemoryCloud();
    cloud.knobs.listLagMs = LAG_8S;
    cloud.knobs.loseCreateAnswers = 1;
    const driver = cloud.driver({ window: WINDOW });
    const { providerId, codes } = await mcmUntilRunning(() => driver, 'm1');
    expect(cloud.createRequests).toEqual(['m1']);
    expect(cloud.live('m1')).toHaveLength(1);
    expect(providerId).toBe(`mem://${cloud.live('m1')[0]!.id}`);
    // Meanwhile the calls answered "not visible yet", never NotFound-then-create again.
    expect(codes).toContain(MachineCode.Unavailable);
  });

  test('the same with every status update lost (MCM found it similar): the in-memory record holds', async () => {
    const cloud = new MemoryCloud();
    cloud.knobs.listLagMs = LAG_8S;
    cloud.knobs.loseCreateAnswers = 1;
    const driver = cloud.driver({ window: WINDOW });
    await mcmUntilRunning(() => driver, 'm1', { dropStatusUpdates: true });
    expect(cloud.createRequests).toEqual(['m1']);
    expect(cloud.live('m1')).toHaveLength(1);
  });

  test('sidecar restarted after the request left: lastKnownState alone keeps a second create back', async () => {
    const cloud = new MemoryCloud();
    cloud.knobs.listLagMs = LAG_8S;
    cloud.knobs.loseCreateAnswers = 1;
    // A new MachineDriver per call: nothing survives in memory, only what MCM hands back.
    await mcmUntilRunning(() => cloud.driver({ window: WINDOW }), 'm1');
    expect(cloud.createRequests).toEqual(['m1']);
    expect(cloud.live('m1')).toHaveLength(1);
  });

  test('sidecar restarted and the status update lost: the journal in --state-dir keeps a second create back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcm-driver-state-'));
    try {
      const cloud = new MemoryCloud();
      cloud.knobs.listLagMs = LAG_8S;
      cloud.knobs.loseCreateAnswers = 1;
      await mcmUntilRunning(() => cloud.driver({ window: WINDOW, stateDir: dir }), 'm1', { dropStatusUpdates: true });
      expect(cloud.createRequests).toEqual(['m1']);
      expect(cloud.live('m1')).toHaveLength(1);
      expect(JSON.parse(readFileSync(join(dir, 'create-intents.json'), 'utf8'))).toHaveProperty(['memory/shoot--a/m1', 'providerId']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('without the journal and with the record lost, a restart may create again: the twin is then removed and one VM stays', async () => {
    const cloud = new MemoryCloud();
    cloud.knobs.listLagMs = LAG_8S;
    cloud.knobs.loseCreateAnswers = 1;
    await mcmUntilRunning(() => cloud.driver({ window: WINDOW }), 'm1', { dropStatusUpdates: true });
    // Two creates went out (nothing remembered the first); once both are listed, the younger goes.
    await sleep(LAG_8S + 100);
    const s = await cloud.driver({ window: WINDOW }).getMachineStatus(call('m1'), never());
    await sleep(50);
    expect(cloud.live('m1')).toHaveLength(1);
    expect(s.providerId).toBe(`mem://${cloud.live('m1')[0]!.id}`);
    expect(cloud.live('m1')[0]!.id).toBe(cloud.vms[0]!.id); // the oldest is the Machine's
  });

  test('a create that never took effect is sent again once the discovery window has passed', async () => {
    const cloud = new MemoryCloud();
    const driver = cloud.driver({ window: 300 });
    // A timeout whose request never reached the cloud looks the same to the driver as a lost answer.
    const session = cloud.session();
    const original = session.create;
    let first = true;
    cloud.session = () => ({
      ...session,
      create: async (m, s, hooks) => {
        if (first) {
          first = false;
          hooks.beforeVmRequest();
          cloud.createRequests.push(m.name);
          throw new CloudApiError('memory', 'create server', 'timeout');
        }
        return original(m, s, hooks);
      },
    });
    await expect(driver.createMachine(call('m1'), never())).rejects.toMatchObject({ code: MachineCode.DeadlineExceeded });
    await expect(driver.createMachine(call('m1'), never())).rejects.toMatchObject({ code: MachineCode.Unavailable });
    expect(cloud.createRequests).toHaveLength(1);
    await sleep(350);
    await driver.createMachine(call('m1'), never());
    expect(cloud.createRequests).toHaveLength(2);
    expect(cloud.live('m1')).toHaveLength(1);
  });

  test.each([400, 429, 403])('a create refused with HTTP %i holds nothing back: the next call creates', async (status) => {
    const cloud = new MemoryCloud();
    cloud.knobs.refuseCreates = { times: 1, status };
    const driver = cloud.driver({ window: 60_000 });
    await expect(driver.createMachine(call('m1'), never())).rejects.toMatchObject({ code: expect.any(Number) });
    await expect(driver.getMachineStatus(call('m1'), never())).rejects.toMatchObject({ code: MachineCode.NotFound });
    await driver.createMachine(call('m1'), never());
    expect(cloud.createRequests).toHaveLength(2);
    expect(cloud.live('m1')).toHaveLength(1);
  });

  test('a create answered with an id but not running in time, the listing lagging and the update lost: the VM is read by its id', async () => {
    const cloud = new MemoryCloud();
    cloud.knobs.listLagMs = LAG_8S;
    cloud.knobs.runAfterMs = 400;
    const driver = cloud.driver({ window: WINDOW, createTimeoutMs: 100 });
    await expect(driver.createMachine(call('m1'), never())).rejects.toMatchObject({ code: MachineCode.DeadlineExceeded });
    // MCM dropped the update: its next GetMachineStatus has no providerID and no lastKnownState.
    await mcmUntilRunning(() => driver, 'm1', { dropStatusUpdates: true });
    expect(cloud.createRequests).toEqual(['m1']);
    expect(cloud.live('m1')).toHaveLength(1);
  });

  test('a multi-step create whose first step outlasts the window: the window counts from the VM request and the unknown outcome, not from the first step; one VM', async () => {
    const cloud = new MemoryCloud();
    cloud.knobs.listLagMs = LAG_8S;
    cloud.knobs.loseCreateAnswers = 1;
    cloud.knobs.stepRunsMs = WINDOW + 200;
    // The driver waits for the step (its createTimeoutMs bounds it, here longer than the step).
    const driver = cloud.driver({ window: WINDOW, createTimeoutMs: WINDOW + 2_000 });
    await mcmUntilRunning(() => driver, 'm1', { dropStatusUpdates: true });
    expect(cloud.createRequests).toEqual(['m1']);
    expect(cloud.live('m1')).toHaveLength(1);
  });

  test('concurrent CreateMachine calls after a lost answer send one create', async () => {
    const cloud = new MemoryCloud();
    cloud.knobs.listLagMs = LAG_8S;
    cloud.knobs.loseCreateAnswers = 1;
    const driver = cloud.driver({ window: WINDOW });
    await Promise.allSettled(Array.from({ length: 5 }, () => driver.createMachine(call('m1'), never())));
    await Promise.allSettled(Array.from({ length: 5 }, () => driver.createMachine(call('m1'), never())));
    expect(cloud.createRequests).toEqual(['m1']);
  });
});

describe('MCM flows as they are', () => {
  test('a failed VM whose removal failed is removed by a later GetMachineStatus, and MCM then creates a new one', async () => {
    const cloud = new MemoryCloud();
    cloud.knobs.failNewVms = true;
    const driver = cloud.driver({ window: WINDOW });
    cloud.knobs.failDeletes = 1;
    // The create: the VM fails, its removal fails.
    await expect(driver.createMachine(call('m1'), never())).rejects.toMatchObject({ code: MachineCode.Internal });
    expect(cloud.live('m1')).toHaveLength(1);
    cloud.knobs.failNewVms = false;
    // MCM's next pass calls GetMachineStatus only (Internal never leads to CreateMachine): it removes the VM.
    await expect(driver.getMachineStatus(call('m1'), never())).rejects.toMatchObject({ code: MachineCode.Internal });
    expect(cloud.live('m1')).toHaveLength(0);
    const { providerId } = await mcmUntilRunning(() => driver, 'm1');
    expect(cloud.live('m1')).toHaveLength(1);
    expect(providerId).toBe(`mem://${cloud.live('m1')[0]!.id}`);
  });

  test('two VMs with one Machine’s markers: the oldest is kept, the other removed, a foreign VM untouched', async () => {
    const cloud = new MemoryCloud();
    const old = cloud.seed('m1', { createdAtMs: Date.now() - 120_000 });
    const young = cloud.seed('m1', { createdAtMs: Date.now() - 30_000 });
    const foreign = cloud.seed('m1', { cluster: 'shoot--other' });
    const s = await cloud.driver().getMachineStatus(call('m1'), never());
    expect(s.providerId).toBe(`mem://${old.id}`);
    expect(cloud.deleteRequests).toEqual([`mem://${young.id}`]);
    expect(cloud.live().map((v) => v.id).sort()).toEqual([old.id, foreign.id].sort());
  });

  test('two VMs and a providerID: the providerID’s VM is the Machine’s, even when younger', async () => {
    const cloud = new MemoryCloud();
    const old = cloud.seed('m1', { createdAtMs: Date.now() - 120_000 });
    const young = cloud.seed('m1', { createdAtMs: Date.now() - 30_000 });
    const s = await cloud.driver().createMachine(call('m1', { providerId: `mem://${young.id}` }), never());
    expect(s.providerId).toBe(`mem://${young.id}`);
    // CreateMachine with a providerID adopts that VM and sends no create (was CloudSigma's own AlreadyExists rule).
    expect(cloud.createRequests).toEqual([]);
    // GetMachineStatus in the creation flow (no providerID) keeps the oldest; with the providerID it only reads it.
    await cloud.driver().getMachineStatus(call('m1', { providerId: `mem://${young.id}` }), never());
    expect(cloud.live('m1')).toHaveLength(2);
    expect(old.deletedAtMs).toBeUndefined();
  });
});

describe('delete means gone', () => {
  test('DeleteMachine answers OK only once the VM no longer exists, and releases what it owned after that', async () => {
    const cloud = new MemoryCloud();
    cloud.knobs.deleteTakesMs = 300;
    const driver = cloud.driver();
    const { providerId } = await driver.createMachine(call('m1'), never());
    const started = Date.now();
    await driver.deleteMachine(call('m1', { providerId }), never());
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    expect(cloud.live('m1')).toHaveLength(0);
    expect(cloud.released).toEqual(['m1']);
  });

  test('a delete still running at the deadline answers DeadlineExceeded and releases nothing yet', async () => {
    const cloud = new MemoryCloud();
    cloud.knobs.deleteTakesMs = 1_000;
    const driver = cloud.driver({ deleteTimeoutMs: 100 });
    const { providerId } = await driver.createMachine(call('m1'), never());
    await expect(driver.deleteMachine(call('m1', { providerId }), never())).rejects.toMatchObject({ code: MachineCode.DeadlineExceeded });
    expect(cloud.owned.has('m1')).toBe(true);
    await sleep(1_000);
    await driver.deleteMachine(call('m1', { providerId }), never());
    expect(cloud.released).toEqual(['m1']);
  });

  test('a failed removal of what the VM owned fails the call and the next call retries it', async () => {
    const cloud = new MemoryCloud();
    cloud.knobs.failReleases = 1;
    const driver = cloud.driver();
    const { providerId } = await driver.createMachine(call('m1'), never());
    await expect(driver.deleteMachine(call('m1', { providerId }), never())).rejects.toMatchObject({ code: MachineCode.Unavailable });
    expect(cloud.owned.has('m1')).toBe(true);
    await driver.deleteMachine(call('m1', { providerId }), never());
    expect(cloud.owned.has('m1')).toBe(false);
  });

  test('deleting a Machine whose create is outstanding waits for the VM instead of leaving it behind', async () => {
    const cloud = new MemoryCloud();
    cloud.knobs.listLagMs = LAG_8S;
    cloud.knobs.loseCreateAnswers = 1;
    const driver = cloud.driver({ window: WINDOW });
    await expect(driver.createMachine(call('m1'), never())).rejects.toMatchObject({ code: MachineCode.DeadlineExceeded });
    await expect(driver.deleteMachine(call('m1'), never())).rejects.toMatchObject({ code: MachineCode.Unavailable });
    await sleep(LAG_8S + 50);
    await driver.deleteMachine(call('m1'), never());
    expect(cloud.live()).toHaveLength(0);
    expect(cloud.owned.size).toBe(0);
  });
});

describe('every wait is the driver\'s: steps before the VM, stops before a delete, what a VM owned', () => {
  test('a step in progress: the driver waits and calls create again with the step\'s lastKnownState; one step request, one VM', async () => {
    const cloud = new MemoryCloud();
    cloud.knobs.stepRunsMs = 200;
    const started = Date.now();
    const s = await cloud.driver().createMachine(call('m1'), never());
    expect(Date.now() - started).toBeGreaterThanOrEqual(180);
    // The memory cloud finds the step's resource only through the lastKnownState the driver handed back.
    expect(cloud.stepRequests).toEqual(['m1']);
    expect(cloud.createRequests).toEqual(['m1']);
    expect(s.providerId).toBe(`mem://${cloud.live('m1')[0]!.id}`);
  });

  test('a step outlasting the create timeout: DeadlineExceeded from the driver with the step\'s lastKnownState, no intent held; the next call continues (one step request)', async () => {
    const cloud = new MemoryCloud();
    cloud.knobs.stepRunsMs = 600;
    const driver = cloud.driver({ window: WINDOW, createTimeoutMs: 150 });
    const err = await driver.createMachine(call('m1'), never()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: MachineCode.DeadlineExceeded });
    const lastKnownState = isMachineError(err) ? err.details.lastKnownState ?? '' : '';
    expect(JSON.parse(lastKnownState)).toEqual({ memoryStep: expect.any(String) });
    expect(lastKnownState).not.toContain('createIntent');
    expect((err as Error).message).toContain('memory step of machine m1 did not finish');
    // No VM request was sent, so nothing holds the Machine back: status answers NotFound, not "create outstanding".
    await expect(driver.getMachineStatus(call('m1'), never())).rejects.toMatchObject({ code: MachineCode.NotFound });
    expect(cloud.createRequests).toEqual([]);
    await sleep(600);
    await driver.createMachine(call('m1', { lastKnownState }), never());
    expect(cloud.stepRequests).toEqual(['m1']);
    expect(cloud.createRequests).toEqual(['m1']);
    expect(cloud.live('m1')).toHaveLength(1);
  });

  test('a call cut while the driver waits for a step: no intent, the step\'s lastKnownState is named', async () => {
    const cloud = new MemoryCloud();
    cloud.knobs.stepRunsMs = 5_000;
    const driver = cloud.driver({ window: WINDOW });
    const cut = new AbortController();
    setTimeout(() => cut.abort(), 100);
    const err = await driver.createMachine(call('m1'), cut.signal).catch((e: unknown) => e);
    expect(isMachineError(err) && err.details.lastKnownState).toContain('memoryStep');
    await expect(driver.getMachineStatus(call('m1'), never())).rejects.toMatchObject({ code: MachineCode.NotFound });
  });

  test('a VM that must stop before its deletion: delete() is repeated on each poll until it is requested, then OK once gone', async () => {
    const cloud = new MemoryCloud();
    cloud.knobs.stopFirstMs = 200;
    cloud.knobs.deleteTakesMs = 100;
    const driver = cloud.driver();
    const { providerId } = await driver.createMachine(call('m1'), never());
    const started = Date.now();
    await driver.deleteMachine(call('m1', { providerId }), never());
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    expect(cloud.live('m1')).toHaveLength(0);
    expect(cloud.deleteRequests).toEqual([providerId]);
    expect(cloud.released).toEqual(['m1']);
  });

  test('a stop outlasting the delete timeout: DeadlineExceeded from the driver; the next DeleteMachine continues and completes', async () => {
    const cloud = new MemoryCloud();
    cloud.knobs.stopFirstMs = 600;
    const { driver, providerId, err } = await deleteOutlastingTimeout(cloud);
    expect((err as Error).message).toContain('a step its deletion needs first');
    expect(cloud.deleteRequests).toEqual([]);
    expect(cloud.live('m1')).toHaveLength(1);
    await sleep(600);
    await driver.deleteMachine(call('m1', { providerId }), never());
    expect(cloud.live('m1')).toHaveLength(0);
    expect(cloud.released).toEqual(['m1']);
  });

  test('what the VM owned still going: releaseMachine is repeated until nothing is left, then OK', async () => {
    const cloud = new MemoryCloud();
    cloud.knobs.releaseTakesMs = 200;
    const driver = cloud.driver();
    const { providerId } = await driver.createMachine(call('m1'), never());
    const started = Date.now();
    await driver.deleteMachine(call('m1', { providerId }), never());
    expect(Date.now() - started).toBeGreaterThanOrEqual(180);
    expect(cloud.released).toEqual(['m1']);
  });

  test('what the VM owned still going at the deadline: DeadlineExceeded from the driver; the next DeleteMachine finishes it', async () => {
    const cloud = new MemoryCloud();
    cloud.knobs.releaseTakesMs = 600;
    const { driver, providerId, err } = await deleteOutlastingTimeout(cloud);
    expect((err as Error).message).toContain('still being removed');
    expect((err as Error).message).toContain('the boot drive of m1');
    expect(cloud.owned.has('m1')).toBe(true);
    await sleep(600);
    await driver.deleteMachine(call('m1', { providerId }), never());
    expect(cloud.released).toEqual(['m1']);
  });
});

describe('the journal', () => {
  test('a --state-dir that is not a writable directory stops the start, naming the flag', async () => {
    const { CreateIntents } = await import('../../../src/driver/create-intents.js');
    expect(() => new CreateIntents(join(process.cwd(), 'package.json', 'x'))).toThrow(/--state-dir .*is not a writable directory/);
  });

  test('an entry is gone from the journal once its window has passed', async () => {
    const { CreateIntents } = await import('../../../src/driver/create-intents.js');
    const dir = mkdtempSync(join(tmpdir(), 'mcm-driver-state-'));
    try {
      let now = 1_000;
      const a = new CreateIntents(dir, () => now);
      a.set('k', { at: 1_000, until: 2_000 });
      expect(new CreateIntents(dir, () => now).get('k', '')).toEqual({ at: 1_000, until: 2_000 });
      now = 2_500;
      const b = new CreateIntents(dir, () => now);
      expect(b.get('k', '')).toBeUndefined();
      expect(b.size).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Creates m1, then deletes it with a 150 ms delete timeout the cloud's knobs outlast: the first DeleteMachine must answer DeadlineExceeded. */
async function deleteOutlastingTimeout(cloud: MemoryCloud) {
  const driver = cloud.driver({ deleteTimeoutMs: 150 });
  const { providerId } = await driver.createMachine(call('m1'), never());
  const err = await driver.deleteMachine(call('m1', { providerId }), never()).catch((e: unknown) => e);
  expect(err).toMatchObject({ code: MachineCode.DeadlineExceeded });
  return { driver, providerId, err };
}

describe('the rules around a create\'s steps are the driver\'s (provider.ts CreateHooks)', () => {
  test('an error before the VM request (create() never called beforeVmRequest) holds nothing back: the next call creates', async () => {
    const cloud = new MemoryCloud();
    const base = cloud.session();
    let first = true;
    cloud.session = () => ({
      ...base,
      create: async (m, s, hooks) => {
        if (first) {
          first = false;
          throw new CloudApiError('memory', 'clone drive', 'timeout');
        }
        return base.create(m, s, hooks);
      },
    });
    const driver = cloud.driver({ window: 60_000 });
    await expect(driver.createMachine(call('m1'), never())).rejects.toMatchObject({ code: MachineCode.DeadlineExceeded });
    await expect(driver.getMachineStatus(call('m1'), never())).rejects.toMatchObject({ code: MachineCode.NotFound });
    await driver.createMachine(call('m1'), never());
    expect(cloud.createRequests).toEqual(['m1']);
  });

  test('a step request whose answer is lost: the driver looks for what it made; not visible yet, no second step request inside the window; once visible the create continues with it (one step request, one VM)', async () => {
    const cloud = new MemoryCloud();
    const base = cloud.session();
    let stepSends = 0;
    let madeAt: number | undefined;
    cloud.session = () => ({
      ...base,
      create: async (m, s, hooks) => {
        const drive = await hooks.stepRequest(
          'boot drive clone',
          async () => {
            stepSends += 1;
            madeAt = Date.now();
            throw new CloudApiError('memory', 'clone drive', 'timeout');
          },
          async () => (madeAt !== undefined && Date.now() >= madeAt + LAG_8S ? 'drive-1' : undefined),
        );
        expect(drive).toBe('drive-1');
        return base.create(m, s, hooks);
      },
    });
    const driver = cloud.driver({ window: WINDOW });
    await expect(driver.createMachine(call('m1'), never())).rejects.toMatchObject({ code: MachineCode.DeadlineExceeded });
    const held = await driver.createMachine(call('m1'), never()).catch((e: unknown) => e);
    expect(held).toMatchObject({ code: MachineCode.Unavailable, message: expect.stringContaining('sends no second boot drive clone request before') });
    expect(stepSends).toBe(1);
    await sleep(LAG_8S);
    await driver.createMachine(call('m1'), never());
    expect(stepSends).toBe(1);
    expect(cloud.createRequests).toEqual(['m1']);
  });

  test('a step request refused (400) is not held: the next call sends it again', async () => {
    const cloud = new MemoryCloud();
    const base = cloud.session();
    let stepSends = 0;
    cloud.session = () => ({
      ...base,
      create: async (m, s, hooks) => {
        await hooks.stepRequest(
          'boot script add',
          async () => {
            stepSends += 1;
            if (stepSends === 1) throw new CloudApiError('memory', 'add script', 'http', { status: 400 });
            return 'script-1';
          },
          async () => undefined,
        );
        return base.create(m, s, hooks);
      },
    });
    const driver = cloud.driver({ window: 60_000 });
    await expect(driver.createMachine(call('m1'), never())).rejects.toMatchObject({ code: MachineCode.InvalidArgument });
    await driver.createMachine(call('m1'), never());
    expect(stepSends).toBe(2);
  });

  test('a start that answers an error although the VM is starting (a retried start): the driver reads the VM and the call succeeds', async () => {
    const cloud = new MemoryCloud();
    const vm = cloud.seed('m1', { state: 'stopped' });
    const base = cloud.session();
    cloud.session = () => ({
      ...base,
      start: async () => {
        vm.state = 'creating';
        vm.runningAtMs = Date.now() + 50;
        throw new CloudApiError('memory', 'start server', 'http', { status: 400 });
      },
    });
    const status = await cloud.driver().createMachine(call('m1'), never());
    expect(status.providerId).toBe(`mem://${vm.id}`);
    expect(cloud.deleteRequests).toEqual([]);
  });

  test('a start refused with the VM still stopped: the call fails with the start\'s error and the VM is kept for the next call, never deleted', async () => {
    const cloud = new MemoryCloud();
    const vm = cloud.seed('m1', { state: 'stopped' });
    const base = cloud.session();
    let starts = 0;
    cloud.session = () => ({
      ...base,
      start: async () => {
        starts += 1;
        if (starts === 1) throw new CloudApiError('memory', 'start server', 'http', { status: 503, quota: true });
        vm.state = 'creating';
      },
    });
    const driver = cloud.driver();
    const err = await driver.createMachine(call('m1'), never()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: MachineCode.ResourceExhausted, details: { lastKnownState: expect.stringContaining(`mem://${vm.id}`) } });
    expect(cloud.deleteRequests).toEqual([]);
    const status = await driver.createMachine(call('m1'), never());
    expect(status.providerId).toBe(`mem://${vm.id}`);
    expect(cloud.createRequests).toEqual([]);
  });

  test.each([
    [400, false, MachineCode.InvalidArgument, true],
    [403, false, MachineCode.PermissionDenied, true],
    [503, true, MachineCode.ResourceExhausted, false],
    [429, false, MachineCode.Unavailable, false],
  ])('a create refused with HTTP %i (quota %s, %i): what its steps made is removed only when the refusal needs a human (%s)', async (status, quota, code, removed) => {
    const cloud = new MemoryCloud();
    const base = cloud.session();
    cloud.session = () => ({
      ...base,
      create: async (m, _s, hooks) => {
        cloud.owned.add(m.name); // a step made something of the Machine's (a boot drive, a script)
        hooks.beforeVmRequest();
        cloud.createRequests.push(m.name);
        throw new CloudApiError('memory', 'create server', 'http', { status, quota });
      },
    });
    const err = await cloud.driver({ window: 60_000 }).createMachine(call('m1'), never()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code });
    expect(cloud.released).toEqual(removed ? ['m1'] : []);
    expect(cloud.owned.has('m1')).toBe(!removed);
  });
});
