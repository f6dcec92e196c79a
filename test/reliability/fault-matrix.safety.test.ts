// The fault matrix's create-safety dimensions (issue 12), per cloud, against the real fakes over
// gRPC and a real `mcm-driver serve` process (so it can be SIGKILLed):
//   listing lag (none / 8 s) × the create's answer (received / lost after the request took effect /
//   a gateway 502 after it took effect) × SIGKILL of the sidecar after the create request left
//   (no / yes, restarted with the same --state-dir) × MCM's 5 s ShortRetry between passes.
// Times are scaled by 1/4 (lag 2 s, retry 1.25 s, the driver's discovery window 5 s) so the
// ratios stay those of a cluster. Each cell also seeds look-alike VMs (other cluster, other class,
// hand-made, partial markers, another user) that must never be touched.
// VPSie answers its VM create without an id [sdk: vpsieinc/govpsie server.go CreateServer returns
// only an error]: the driver finds the VM by its markers, first in the pending view, then in the
// list; with a lag the VM stays in the pending view for the lag (test/fakes/vpsie/listing.ts). Its
// create is two requests (the script POST, then the VM POST): the kill and the lost answer hit the
// VM POST, the one that makes a VM. Its sidecar runs with a high VPSIE_REQUESTS_PER_MINUTE, as the
// adapter's default throttle (VPSie's autoscaler stays at 100 a minute) would only slow the matrix.
// Done when, per cloud: 0 duplicate VMs, exactly 1 VM create request per cell, 0 leaked
// drives/volumes/scripts, 0 foreign VMs touched (the summary line counts them).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MachineCode } from '../../src/driver/codes.js';
import { isDriverCallError } from '../../src/server/driver-client.js';
import { ALICE, BOB } from '../support/cloudsigma-harness.js';
import { McmFlow, type CloudName } from '../support/cloud-kits.js';
import { CLASS_NAME, NAMESPACE, classOf, closeFakes, leaksOf, machineOf, secretOf, startFakes, startSidecarProcess, vmsOf, waitUntil, type Fakes, type SidecarProcess } from '../support/sidecar-process.js';
import { PROJECT_ID as ST_PROJECT, REGION as ST_REGION } from '../support/stackit-harness.js';
import { PROJECT_ID as VP_PROJECT } from '../support/vpsie-harness.js';

const SCALE = 1 / 4;
const LAG_MS = 8_000 * SCALE;
const MCM_RETRY_MS = 5_000 * SCALE;
const WINDOW_MS = 20_000 * SCALE;
/** The create request is held this long at the cloud before it takes effect: the kill lands in between. */
const HOLD_MS = 1_500;

type Answer = 'received' | 'lost' | '502 after success';
const LAGS = [0, LAG_MS];
const ANSWERS: Answer[] = ['received', 'lost', '502 after success'];
const KILLS = [false, true];

interface Figures {
  cells: number;
  calls: number;
  createRequests: number;
  duplicates: number;
  leaks: number;
  foreignTouched: number;
  restarts: number;
}

/** The request that makes a VM (VPSie: the VM POST under VPSIE_API_ENDPOINT, never POST /apps/v2/script/add). */
const CREATE: Record<CloudName, { method: string; path: RegExp }> = {
  stackit: { method: 'POST', path: /\/servers$/ },
  cloudsigma: { method: 'POST', path: /^\/api\/2\.0\/servers\/$/ },
  vpsie: { method: 'POST', path: /^\/(apps|api)\/v2\/vm$/ },
};

function requestsOf(f: Fakes, cloud: CloudName): Array<{ method: string; path: string; body?: unknown }> {
  return cloud === 'stackit' ? f.stackit.requests : cloud === 'cloudsigma' ? f.cloudsigma.requests : f.vpsie.requests;
}

function fakeOf(f: Fakes, cloud: CloudName) {
  return cloud === 'stackit' ? f.stackit : cloud === 'cloudsigma' ? f.cloudsigma : f.vpsie;
}

/** The sidecar's environment: VPSie's default throttle would make the matrix wait, not test it. */
const ENV: Record<CloudName, Record<string, string>> = { stackit: {}, cloudsigma: {}, vpsie: { VPSIE_REQUESTS_PER_MINUTE: '100000' } };

/** VMs that look like the Machine's but are not ours to adopt, list or delete. */
function seedForeign(f: Fakes, cloud: CloudName, m: string): string[] {
  if (cloud === 'stackit') {
    const L = { machine: 'kubernetes.io/machine', cls: 'kubernetes.io/machineclass', cluster: 'mcm-grpc-driver.io/cluster' };
    const seed = (labels: Record<string, string>) => f.stackit.seedServer({ projectId: ST_PROJECT, region: ST_REGION, name: m, status: 'ACTIVE', labels }).id;
    return [
      seed({ [L.machine]: m, [L.cls]: CLASS_NAME, [L.cluster]: 'shoot--garden--beta' }),
      seed({ [L.machine]: `${m}-b`, [L.cls]: 'beta-worker', [L.cluster]: NAMESPACE }),
      seed({}),
      seed({ [L.machine]: m, [L.cls]: CLASS_NAME }),
    ];
  }
  if (cloud === 'vpsie') {
    // As cloud-kits' VPSie look-alikes: a VM whose notes marker or all three marker tags name this
    // cluster, class and hostname is ours by definition, so each of these lacks some part of it.
    const seed = (hostname: string, notes?: string, tags: string[] = []) => f.vpsie.seedVm({ hostname, projectId: VP_PROJECT, notes, tags }).identifier;
    const line = (cluster: string, cls: string, machine: string) => `mcm-grpc-driver: cluster=${cluster} class=${cls} machine=${machine}`;
    return [
      seed(`${m}-a`, line('shoot--garden--beta', CLASS_NAME, `${m}-a`)),
      seed(`${m}-b`, line(NAMESPACE, 'beta-worker', `${m}-b`)),
      seed(`${m}-c`, undefined, [`mcm-cluster:${NAMESPACE}`, `mcm-machine:${m}-c`]),
      seed(`${m}-d`, line(NAMESPACE, CLASS_NAME, `${m}-e`)),
      seed(`${m}-f`, `mcm-grpc-driver: cluster=${NAMESPACE} class=${CLASS_NAME};`, ['mcm-cluster:shoot--garden--beta', `mcm-class:${CLASS_NAME}`, `mcm-machine:${m}-f`]),
      // Hand-made with the Machine's own hostname, no markers: never adopted, never deleted.
      seed(m),
    ];
  }
  const all = (cluster: string) => ({ 'kubernetes.io/machine': m, 'kubernetes.io/machineclass': CLASS_NAME, 'mcm-grpc-driver.io/cluster': cluster });
  const seed = (meta: Record<string, string>, owner = ALICE) => f.cloudsigma.seedServer({ owner, name: m, meta, status: 'running' }).uuid;
  return [seed(all('shoot--garden--beta')), seed({}), seed({ 'kubernetes.io/machine': m, 'kubernetes.io/machineclass': CLASS_NAME }), seed(all(NAMESPACE), BOB)];
}

/** Foreign VMs gone or deleting, or sent a delete, stop or any write (VPSie names the VM in DELETE /vm's body). */
function touched(f: Fakes, cloud: CloudName, ids: string[]): string[] {
  const live = new Set(
    cloud === 'stackit'
      ? f.stackit.servers().map((s) => s.id)
      : cloud === 'cloudsigma'
        ? f.cloudsigma.servers().map((s) => s.uuid)
        : f.vpsie.vms().filter((v) => v.phase !== 'deleting').map((v) => v.identifier),
  );
  const written = requestsOf(f, cloud).filter((r) => r.method !== 'GET');
  return ids.filter((id) => !live.has(id) || written.some((r) => r.path.includes(id) || JSON.stringify(r.body ?? null).includes(id)));
}

function describeSafetyMatrix(cloud: CloudName): void {
  describe(`create safety matrix: ${cloud}`, () => {
    let fakes: Fakes;
    let sidecar: SidecarProcess | undefined;
    let stateDir: string;
    const figures: Figures = { cells: 0, calls: 0, createRequests: 0, duplicates: 0, leaks: 0, foreignTouched: 0, restarts: 0 };
    const args = () => ['--state-dir', stateDir, '--discovery-window', `${WINDOW_MS}ms`, '--delete-timeout', '20s'];

    beforeAll(async () => {
      stateDir = mkdtempSync(join(tmpdir(), `mcm-driver-safety-${cloud}-`));
      fakes = await startFakes({ stackit: { activeAfterMs: 300, deleteAfterMs: 300 }, cloudsigma: { cloneAfterMs: 200, runningAfterMs: 300, stoppedAfterMs: 200 }, vpsie: { visibleAfterMs: 300, runningAfterMs: 300, deleteAfterMs: 300 } });
      sidecar = await startSidecarProcess(fakes, args(), ENV[cloud]);
    }, 90_000);
    afterAll(async () => {
      await sidecar?.close();
      await closeFakes(fakes);
      rmSync(stateDir, { recursive: true, force: true });
      process.stdout.write(`create safety matrix ${cloud}: ${JSON.stringify(figures)}\n`);
    });

    const cells: Array<[number, Answer, boolean]> = [];
    for (const lag of LAGS) for (const answer of ANSWERS) for (const kill of KILLS) cells.push([lag, answer, kill]);
    let n = 0;

    test.each(cells)('listing lag %i ms, answer %s, SIGKILL after the request left: %s', async (lag, answer, kill) => {
      fakes.stackit.reset();
      fakes.cloudsigma.reset();
      fakes.vpsie.reset();
      const fake = fakeOf(fakes, cloud);
      fake.setListingLag({ createMs: lag, deleteMs: lag });
      const machine = `alpha-worker-z1-sm${(n++).toString(36)}`;
      const foreign = seedForeign(fakes, cloud, machine);
      const afterSuccess = answer === 'lost' ? ('drop' as const) : answer === '502 after success' ? { status: 502 } : undefined;
      if (afterSuccess || kill) fake.injectFault({ ...CREATE[cloud], ...(kill ? { delayMs: HOLD_MS } : {}), ...(afterSuccess ? { afterSuccess } : {}) });

      const request = (name: string, o: { providerID?: string; lastKnownState?: string } = {}) => ({
        machine: machineOf(name, o.providerID, o.lastKnownState),
        machineClass: classOf(cloud),
        secretData: secretOf(fakes, cloud),
      });
      // The client of whichever sidecar process is running now.
      const flow = new McmFlow((m, req) => sidecar!.client.call(m, req), request, machine);

      if (kill) {
        const first = flow.pass().catch(() => false);
        await waitUntil(() => requestsOf(fakes, cloud).some((r) => r.method === CREATE[cloud].method && CREATE[cloud].path.test(r.path)), 30_000, 'create request sent');
        const dying = sidecar!;
        dying.proc.kill('SIGKILL');
        await dying.exited;
        await first;
        sidecar = await startSidecarProcess(fakes, args(), ENV[cloud]);
        figures.restarts += 1;
      }
      const status = await flow.untilRunning(40, MCM_RETRY_MS);
      figures.calls += flow.codes.length;
      figures.cells += 1;
      const creates = requestsOf(fakes, cloud).filter((r) => r.method === CREATE[cloud].method && CREATE[cloud].path.test(r.path)).length;
      figures.createRequests += creates;

      // The lag has passed for everything made: a duplicate would be visible now.
      await new Promise((r) => setTimeout(r, lag));
      // vmsOf matches the machine marker only: the look-alikes seeded above are not the Machine's.
      const ours = () => vmsOf(fakes, cloud, machine).filter((id) => !foreign.includes(id));
      const vms = ours();
      if (vms.length !== 1) figures.duplicates += 1;
      expect({ vms: vms.length, codes: flow.codes.join(',') }).toEqual({ vms: 1, codes: flow.codes.join(',') });
      expect(status.providerId).toContain(vms[0]!);
      expect(creates).toBe(1);

      // MCM deletes the Machine: OK only once its VM and what it owned are gone.
      for (let i = 0; ; i++) {
        try {
          await sidecar!.client.call('DeleteMachine', request(machine, { providerID: status.providerId }));
          figures.calls += 1;
          break;
        } catch (err) {
          figures.calls += 1;
          if (!isDriverCallError(err) || i >= 10 || err.code === MachineCode.InvalidArgument) throw err;
          await new Promise((r) => setTimeout(r, MCM_RETRY_MS));
        }
      }
      expect(ours()).toEqual([]);
      const leaks = leaksOf(fakes, cloud);
      figures.leaks += leaks.length;
      expect(leaks).toEqual([]);
      const hit = touched(fakes, cloud, foreign);
      figures.foreignTouched += hit.length;
      expect(hit).toEqual([]);
    }, 120_000);
  });
}

describeSafetyMatrix('stackit');
describeSafetyMatrix('cloudsigma');
describeSafetyMatrix('vpsie');
