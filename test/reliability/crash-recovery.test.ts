import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { McmFlow, type CloudName } from '../support/cloud-kits.js';
import {
  classOf,
  closeFakes,
  leaksOf,
  machineOf,
  secretOf,
  startFakes,
  startSidecarProcess,
  vmsOf,
  waitUntil,
  type Fakes,
  type SidecarProcess,
} from '../support/sidecar-process.js';

/**
 * Crash recovery: the sidecar process (`mcm-driver serve`) is SIGKILLed in the middle of
 * CreateMachine, at a given step per cloud, and started again. MCM never got an answer, so it
 * has no providerID and no lastKnownState; its next calls (GetMachineStatus, then CreateMachine on
 * NotFound, InitializeMachine on Uninitialized) must end with exactly one VM per Machine and nothing
 * leaked, and deleting the Machine must leave nothing behind. Both processes of a round share one
 * --state-dir (an emptyDir of the pod, as the README advises): with neither an answer nor
 * lastKnownState, the create intent journal is all that tells the restarted sidecar that a create
 * it can no longer see may have taken effect. (Without it, a restart faster than the cloud's
 * answer sends a second create, and only the twin rule removes the younger VM later.)
 */

const TEST_TIMEOUT_MS = 180_000;

interface KillPoint {
  cloud: CloudName;
  step: string;
  /** Armed before the call: holds a request on the fake so the kill lands inside it. */
  arm?: (f: Fakes) => void;
  /** True once the create has reached the step. */
  reached: (f: Fakes, machine: string) => boolean;
}

const posted = (f: Fakes, cloud: CloudName, method: string, path: RegExp, query: Record<string, string> = {}) =>
  (cloud === 'stackit' ? f.stackit.requests : cloud === 'cloudsigma' ? f.cloudsigma.requests : f.vpsie.requests).some(
    (r) => r.method === method && path.test(r.path) && Object.entries(query).every(([k, v]) => r.query[k] === v),
  );

// One round = one sidecar process killed once, with one create per cloud in flight, each at its step.
const ROUNDS: Array<{ name: string; points: KillPoint[] }> = [
  {
    name: 'the create request reached the cloud, its answer not sent yet',
    points: [
      { cloud: 'stackit', step: 'POST servers held', arm: (f) => f.stackit.injectFault({ method: 'POST', path: /\/servers$/, delayMs: 2_500 }), reached: (f) => posted(f, 'stackit', 'POST', /\/servers$/) },
      { cloud: 'cloudsigma', step: 'POST servers held (drive cloned)', arm: (f) => f.cloudsigma.injectFault({ method: 'POST', path: /^\/api\/2\.0\/servers\/$/, delayMs: 2_500 }), reached: (f) => posted(f, 'cloudsigma', 'POST', /^\/api\/2\.0\/servers\/$/) },
      { cloud: 'vpsie', step: 'POST vm held (script added)', arm: (f) => f.vpsie.injectFault({ method: 'POST', path: /^\/apps\/v2\/vm$/, delayMs: 2_500 }), reached: (f) => posted(f, 'vpsie', 'POST', /^\/apps\/v2\/vm$/) },
    ],
  },
  {
    name: 'waiting for the VM to run',
    points: [
      { cloud: 'stackit', step: 'server CREATING', reached: (f, m) => f.stackit.servers().some((s) => s.labels['kubernetes.io/machine'] === m && s.status === 'CREATING') },
      { cloud: 'cloudsigma', step: 'server starting', reached: (f) => posted(f, 'cloudsigma', 'POST', /\/servers\/[^/]+\/action\/$/, { do: 'start' }) },
      { cloud: 'vpsie', step: 'VM listed, not running', reached: (f, m) => f.vpsie.vms().some((v) => v.hostname === m && v.phase === 'listed') },
    ],
  },
  {
    name: 'between the steps of a multi-step create',
    points: [
      { cloud: 'cloudsigma', step: 'boot drive cloning, no server yet', reached: (f) => posted(f, 'cloudsigma', 'POST', /\/action\/$/, { do: 'clone' }) },
      {
        cloud: 'vpsie',
        step: 'script added, create not sent',
        // held, then dropped without effect: the create never reaches VPSie
        arm: (f) => f.vpsie.injectFault({ method: 'POST', path: /^\/apps\/v2\/vm$/, delayMs: 30_000, reset: true }),
        reached: (f) => posted(f, 'vpsie', 'POST', /^\/apps\/v2\/script\/add$/),
      },
      { cloud: 'stackit', step: 'server just created (answer received)', reached: (f, m) => f.stackit.servers().some((s) => s.labels['kubernetes.io/machine'] === m) },
    ],
  },
];

let fakes: Fakes;
let sidecar: SidecarProcess | undefined;

beforeAll(async () => {
  fakes = await startFakes({
    stackit: { activeAfterMs: 2_500 },
    cloudsigma: { cloneAfterMs: 1_500, runningAfterMs: 2_500 },
    vpsie: { pendingAfterMs: 0, visibleAfterMs: 800, runningAfterMs: 2_500 },
  });
});
const afterRound: Array<() => void> = [];
afterAll(async () => {
  await sidecar?.close();
  await closeFakes(fakes);
  for (const clean of afterRound) clean();
});

describe.each(ROUNDS.map((r, i) => [r.name, i] as const))('SIGKILL while %s', (_name, index) => {
  test('the restarted sidecar converges to one VM per Machine and leaks nothing', async () => {
    const round = ROUNDS[index]!;
    fakes.stackit.reset();
    fakes.cloudsigma.reset();
    fakes.vpsie.reset();
    const machines = round.points.map((p) => `alpha-worker-z1-crash${index}-${p.cloud.slice(0, 2)}`);
    const stateDir = mkdtempSync(join(tmpdir(), 'mcm-crash-'));
    afterRound.push(() => rmSync(stateDir, { recursive: true, force: true }));
    // The fakes show a new VM within about 1 s, so a 5 s window covers their lag (production: 60 s, VPSie 20 min). A create
    // request that left but took no effect (VPSie's held-then-dropped POST below) is held back for that window, then sent again.
    const serve = ['--state-dir', stateDir, '--discovery-window', '5s'];
    sidecar = await startSidecarProcess(fakes, serve);
    for (const p of round.points) p.arm?.(fakes);
    const first = sidecar;
    const inFlight = round.points.map((p, i) =>
      first.client.call('CreateMachine', { machine: machineOf(machines[i]!), machineClass: classOf(p.cloud), secretData: secretOf(fakes, p.cloud) }).then(
        () => 'answered',
        () => 'failed',
      ),
    );
    await waitUntil(() => round.points.every((p, i) => p.reached(fakes, machines[i]!)), 60_000, `kill points of "${round.name}"`);
    first.proc.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    await Promise.all(inFlight); // every call ends (with a transport error): nothing hangs
    fakes.stackit.clearFaults();
    fakes.cloudsigma.clearFaults();
    fakes.vpsie.clearFaults();

    sidecar = await startSidecarProcess(fakes, serve);
    const second = sidecar;
    const flows = round.points.map(
      (p, i) =>
        new McmFlow(
          (m, req) => second.client.call(m, req),
          (name, o = {}) => ({ machine: machineOf(name, o.providerID, o.lastKnownState), machineClass: classOf(p.cloud), secretData: secretOf(fakes, p.cloud) }),
          machines[i]!,
        ),
    );
    await Promise.all(flows.map((f) => f.untilRunning(80, 250)));
    round.points.forEach((p, i) => {
      expect({ step: `${p.cloud}: ${p.step}`, vms: vmsOf(fakes, p.cloud, machines[i]!).length }).toEqual({ step: `${p.cloud}: ${p.step}`, vms: 1 });
      expect(leaksOf(fakes, p.cloud)).toEqual([]);
    });
    // The Machine is deleted the way MCM does it: nothing of it may remain.
    await Promise.all(
      round.points.map((p, i) =>
        second.client.call('DeleteMachine', { machine: machineOf(machines[i]!, flows[i]!.providerId), machineClass: classOf(p.cloud), secretData: secretOf(fakes, p.cloud) }),
      ),
    );
    round.points.forEach((p, i) => {
      expect(vmsOf(fakes, p.cloud, machines[i]!)).toEqual([]);
      expect(leaksOf(fakes, p.cloud)).toEqual([]);
    });
    await second.close();
    sidecar = undefined;
  }, TEST_TIMEOUT_MS);
});
