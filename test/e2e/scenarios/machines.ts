// Issue 5 §3, per cloud: the scenarios that drive real MCM against the sidecar
// and a fake cloud. Each asserts on Kubernetes objects and on the fake's VMs,
// and records the time each step took to converge.
import { ORPHAN_SWEEP_PERIOD_MS, STACKS } from '../lib/env.js';
import { paths } from '../lib/kube.js';
import { sleep, waitUntil } from '../lib/wait.js';
import { assert, CONVERGE_MS, fmtVms, type ScenarioContext } from './context.js';

export interface Scenario {
  id: string;
  title: string;
  /** jest timeout */
  timeoutMs: number;
  /**
   * Runs alone, after every cloud's other scenarios: it disturbs what all
   * clouds share (SIGKILL of the one sidecar process serving every cloud).
   */
  exclusive?: boolean;
  /** Only for these clouds (default: every cloud). */
  clouds?: string[];
  run(ctx: ScenarioContext): Promise<void>;
}

const T = STACKS.target.namespace;
const NT = STACKS.notarget.namespace;

/** §3.1: no target cluster; a bare Machine goes Available, its VM is the fake's; delete removes both. */
const noTarget: Scenario = {
  id: 'no-target',
  title: 'no target cluster (--target-kubeconfig=none): Machine Available, delete',
  timeoutMs: 15 * 60_000,
  async run(ctx) {
    const cls = ctx.name('nt-class');
    const name = ctx.name('nt-machine');
    await ctx.cleanup(NT, { machines: [name] });
    await ctx.ensureClass(NT, cls);
    await ctx.createMachine(NT, name, cls);
    const { machine, vm } = await ctx.step('Machine Available', () => ctx.waitMachineWithVm(NT, name, 'Available'));
    assert(vm.machineClass === cls && vm.cluster === NT, `VM markers ${JSON.stringify(vm)}`);
    assert(!machine.metadata.labels?.node, 'no node label without a target cluster');
    if (vm.userData !== undefined) {
      // MCM filled in the Machine name; without a target cluster it makes no bootstrap token.
      assert(vm.userData.includes(`joining as ${name} with <<BOOTSTRAP_TOKEN>>`), `VM boot data: ${JSON.stringify(vm.userData)}`);
    }
    const addresses = (machine.status?.addresses ?? []) as Array<{ type: string; address: string }>;
    assert(addresses.some((a) => a.type === 'Hostname' && a.address === name), `status.addresses has Hostname=${name}: ${JSON.stringify(addresses)}`);
    await ctx.step('delete: Machine + VM gone', () => ctx.deleteMachineAndWait(NT, name, vm.providerId));
    ctx.assertNoDuplicates();
  },
};

/** §3.2a: with the target; the suite plays kubelet; Running; delete removes Machine, VM and Node. */
const targetMachine: Scenario = {
  id: 'target-machine',
  title: 'target cluster: Machine Running (Node simulated), delete',
  timeoutMs: 15 * 60_000,
  async run(ctx) {
    const cls = ctx.name('run-class');
    const name = ctx.name('run-machine');
    await ctx.cleanup(T, { machines: [name] });
    await ctx.ensureClass(T, cls);
    await ctx.createMachine(T, name, cls);
    const { machine, vm } = await ctx.step('Machine Running', () => ctx.waitMachineWithVm(T, name, 'Running'));
    const nodeName = machine.metadata.labels?.node;
    assert(nodeName === name, `node label ${nodeName} = Machine name`);
    // MCM labels the Node with its Machine and puts its finalizer on it on a later pass (machine_util.go syncMachineNameToNode).
    await ctx.step('Node adopted by MCM (label + finalizer)', () =>
      waitUntil(
        `Node ${nodeName} labelled node.gardener.cloud/machine-name=${name} with MCM's finalizer`,
        async () => {
          const node = await ctx.kube.get(`${paths.nodes()}/${nodeName}`);
          const labelled = node?.metadata.labels?.['node.gardener.cloud/machine-name'] === name;
          const finalizer = (node?.metadata.finalizers ?? []).includes('node.machine.sapcloud.io/machine-controller');
          return { done: labelled && finalizer, state: node ? `labels=${JSON.stringify(node.metadata.labels)} finalizers=${JSON.stringify(node.metadata.finalizers ?? [])}` : 'no Node' };
        },
        { timeoutMs: CONVERGE_MS },
      ),
    );
    const ready = (machine.status?.conditions ?? []).find((c: { type: string }) => c.type === 'Ready');
    assert(ready?.status === 'True', 'Machine copied the Node Ready condition');
    if (vm.userData !== undefined) {
      // MCM put the Machine name and a bootstrap token (<id>.<secret>, its Secret in the target's kube-system) into the boot data.
      const token = new RegExp(`joining as ${name} with ([a-z0-9]{6})\\.[a-z0-9]{16}`).exec(vm.userData);
      assert(token, `VM boot data has the Machine name and a bootstrap token: ${JSON.stringify(vm.userData.replace(/\.[a-z0-9]{16}/g, '.<secret>'))}`);
      await ctx.step('bootstrap-token Secret removed once Running', () =>
        waitUntil(
          `kube-system/bootstrap-token-${token[1]} deleted by MCM`,
          async () => ({ done: !(await ctx.kube.get(`${paths.secrets('kube-system')}/bootstrap-token-${token[1]}`)) }),
          { timeoutMs: CONVERGE_MS },
        ),
      );
    }
    await ctx.step('delete: Machine + VM + Node gone', () => ctx.deleteMachineAndWait(T, name, vm.providerId, nodeName));
    ctx.assertNoDuplicates();
  },
};

/** §3.2b: MachineDeployment 0 → 3 → 1 → 0, the fake holding exactly as many VMs each time. */
const deploymentScale: Scenario = {
  id: 'md-scale',
  title: 'MachineDeployment 0 → 3 → 1 → 0',
  timeoutMs: 25 * 60_000,
  async run(ctx) {
    const md = ctx.name('md');
    const classes = [ctx.name('md-v1'), ctx.name('md-v2')];
    await ctx.cleanup(T, { deployment: md, classes });
    await ctx.ensureClass(T, classes[0]!, 'v1');
    await ctx.upsertDeployment(T, md, classes[0]!, 0);
    await ctx.step('0: MachineSet, no Machine, no VM', () =>
      waitUntil(
        `MachineSet of ${md}`,
        async () => {
          const sets = await ctx.kube.list(paths.mcm(T, 'machinesets'), `e2e-pool=${md}`);
          const machines = await ctx.kube.list(paths.mcm(T, 'machines'), `e2e-pool=${md}`);
          const vms = await ctx.vms(T, classes);
          return { done: sets.length === 1 && machines.length === 0 && vms.length === 0, state: `sets=${sets.length} machines=${machines.length} vms=${vms.length}` };
        },
        { timeoutMs: CONVERGE_MS },
      ),
    );
    for (const n of [3, 1, 0]) {
      await ctx.scaleDeployment(T, md, n);
      const r = await ctx.step(`scaled to ${n}`, () => ctx.waitDeployment(T, md, classes, n));
      if (r.peakVms > n) ctx.note(`scale to ${n}: peak ${r.peakVms} VMs while converging`);
    }
    ctx.assertNoDuplicates();
  },
};

/** §3.2c: a rolling update to a second MachineClass replaces every VM. */
const rollingUpdate: Scenario = {
  id: 'rolling-update',
  title: 'rolling update to a second MachineClass replaces every VM',
  timeoutMs: 25 * 60_000,
  async run(ctx) {
    const md = ctx.name('md');
    const [v1, v2] = [ctx.name('md-v1'), ctx.name('md-v2')];
    const classes = [v1, v2];
    await ctx.ensureClass(T, v1, 'v1');
    await ctx.ensureClass(T, v2, 'v2');
    // Continues from md-scale's deployment (at 0), or makes it.
    const existing = await ctx.kube.get(`${paths.mcm(T, 'machinedeployments')}/${md}`);
    if (existing && existing.spec?.template?.spec?.class?.name !== v1) {
      await ctx.cleanup(T, { deployment: md, classes });
    }
    await ctx.upsertDeployment(T, md, v1, 2);
    const before = await ctx.step('2 Machines on v1', () => ctx.waitDeployment(T, md, classes, 2, { className: v1 }));
    const oldIds = new Set(before.vms.map((v) => v.id));
    await ctx.kube.patch(`${paths.mcm(T, 'machinedeployments')}/${md}`, { spec: { template: { spec: { class: { name: v2 } } } } });
    const after = await ctx.step('rolled to v2: every VM replaced', () => ctx.waitDeployment(T, md, classes, 2, { className: v2, notIds: oldIds }));
    ctx.note(`rolling update: peak ${after.peakVms} VMs (maxSurge 1)`);
    const sets = await ctx.kube.list(paths.mcm(T, 'machinesets'), `e2e-pool=${md}`);
    const active = sets.filter((s) => (s.spec?.replicas ?? 0) > 0);
    assert(active.length === 1 && active[0]!.spec.template.spec.class.name === v2, `one active MachineSet, on ${v2}: ${sets.map((s) => `${s.metadata.name}=${s.spec?.replicas}`).join(' ')}`);
    await ctx.step('MachineDeployment deleted: all gone', () => ctx.deleteDeploymentAndWait(T, md, classes));
    ctx.assertNoDuplicates();
  },
};

/**
 * §3.3: orphan collection. A VM with this cluster's and class's markers but no
 * Machine is deleted by MCM's sweep; a VM of another cluster (same class
 * name, same account) and a hand-made VM survive it.
 */
const orphans: Scenario = {
  id: 'orphans',
  title: 'orphan collection: orphan deleted; other cluster + hand-made VM survive',
  timeoutMs: 15 * 60_000,
  async run(ctx) {
    const cls = ctx.name('orphan-class');
    await ctx.ensureClass(T, cls);
    const orphan = await ctx.f.seed({ name: ctx.name('orphan-vm'), markers: { machine: ctx.name('orphan-vm'), machineClass: cls, cluster: T } });
    const foreign = await ctx.f.seed({
      name: ctx.name('foreign-vm'),
      markers: { machine: ctx.name('foreign-vm'), machineClass: cls, cluster: 'shoot--other--cluster' },
    });
    const handMade = await ctx.f.seed({ name: ctx.name('bastion') });
    try {
      await ctx.step('orphan deleted by the sweep', () =>
        waitUntil(
          `orphan VM ${orphan.id} deleted by MCM`,
          async () => {
            const vms = await ctx.f.vms();
            const o = vms.find((v) => v.id === orphan.id);
            return { done: !o, state: `orphan=${o ? o.status : 'gone'}` };
          },
          // A few sweep periods and slack: a sweep also stops at the first MachineClass whose
          // ListMachines fails, e.g. another cloud's during its faults scenario.
          { timeoutMs: Math.max(12 * ORPHAN_SWEEP_PERIOD_MS, 180_000) },
        ),
      );
      // One more full period: the survivors must still be there after another sweep.
      await ctx.step('one more sweep period', () => sleep(ORPHAN_SWEEP_PERIOD_MS + 3_000));
      const vms = await ctx.f.vms();
      for (const [what, v] of [
        ['VM of another cluster', foreign],
        ['hand-made VM', handMade],
      ] as const) {
        const now = vms.find((x) => x.id === v.id);
        assert(now && !now.deleting, `${what} ${v.name} survives (now: ${now ? now.status : 'gone'})`);
      }
    } finally {
      await ctx.f.remove(foreign.id).catch(() => undefined);
      await ctx.f.remove(handMade.id).catch(() => undefined);
    }
  },
};

/**
 * §3.4a: the cloud answers 429, then 5xx, for a while, then loses one create
 * answer: Machines still converge, one VM each.
 */
const cloudFaults: Scenario = {
  id: 'faults-http',
  title: 'faults: 429 then 5xx for a while, a lost create answer → converge, no duplicate VM',
  timeoutMs: 20 * 60_000,
  async run(ctx) {
    const md = ctx.name('faulty');
    const cls = ctx.name('faulty-class');
    await ctx.cleanup(T, { deployment: md, classes: [cls] });
    await ctx.ensureClass(T, cls);
    await ctx.f.clearFaults();
    await ctx.f.injectFault({ op: 'any', status: 429, times: 100_000, headers: { 'Retry-After': '1' } });
    try {
      await ctx.upsertDeployment(T, md, cls, 2);
      await ctx.step('429 phase (15 s)', async () => {
        await sleep(15_000);
        await ctx.f.clearFaults();
        await ctx.f.injectFault({ op: 'any', status: 503, times: 100_000 });
      });
      await ctx.step('503 phase (10 s)', async () => {
        await sleep(10_000);
        await ctx.f.clearFaults();
        // The first create after the outage is carried out but its answer is lost; a few reads fail too.
        await ctx.f.injectFault({ op: 'create', afterSuccess: 'drop', times: 1 });
        await ctx.f.injectFault({ op: 'get', status: 502, times: 3 });
      });
      const machines = await ctx.kube.list(paths.mcm(T, 'machines'), `e2e-pool=${md}`);
      ctx.note(`during the outage: ${machines.map((m) => `${m.metadata.name}=${m.status?.currentStatus?.phase ?? '""'}/${m.status?.lastOperation?.errorCode ?? '-'}`).join(' ')}`);
      const r = await ctx.step('converged after the faults', () => ctx.waitDeployment(T, md, [cls], 2));
      const creates = (await ctx.f.createdMachines()).filter((n) => r.machines.some((m) => m.metadata.name === n));
      ctx.note(`create requests that reached the fake: ${creates.length} for 2 Machines`);
    } finally {
      await ctx.f.clearFaults();
    }
    ctx.assertNoDuplicates();
    await ctx.step('MachineDeployment deleted: all gone', () => ctx.deleteDeploymentAndWait(T, md, [cls]));
  },
};

/**
 * Issue 12 "Done when": the cloud's listing lags a create by longer than MCM's 5 s retry, and the
 * first create's answer is lost after the request took effect. The driver must not send a second
 * create while the VM is missing from listings (its discovery window, 60 s per cloud): the Machine
 * ends Running with exactly one VM, and VMs that are not the Machine's are never touched.
 */
const LISTING_LAG_MS = 12_000;
/** How each cloud's first create answer is lost: a dropped connection, or a gateway 5xx (test/fakes/core/fault-spec.ts). */
const LOST_ANSWER: Record<string, 'drop' | { status: number }> = { stackit: 'drop', cloudsigma: { status: 502 }, vpsie: { status: 502 } };
const lagLostAnswer: Scenario = {
  id: 'lag-lost',
  title: `listing lags a create by ${LISTING_LAG_MS / 1000} s and the create's answer is lost → Running, exactly one VM`,
  timeoutMs: 15 * 60_000,
  async run(ctx) {
    const cls = ctx.name('lag-class');
    const name = ctx.name('lag-machine');
    await ctx.cleanup(T, { machines: [name], classes: [cls] });
    await ctx.ensureClass(T, cls);
    await ctx.f.clearFaults();
    // VMs the driver must leave alone: another cluster's (same class name) and a hand-made one.
    const foreignName = ctx.name('lag-foreign');
    const foreign = await ctx.f.seed({ name: foreignName, markers: { machine: foreignName, machineClass: cls, cluster: 'shoot--other--cluster' } });
    const handMade = await ctx.f.seed({ name: ctx.name('lag-bastion') });
    const lost = LOST_ANSWER[ctx.cloud!.id] ?? 'drop';
    try {
      await ctx.f.setListingLag({ createMs: LISTING_LAG_MS });
      await ctx.f.injectFault({ op: 'create', afterSuccess: lost, times: 1 });
      ctx.note(`listing lag ${LISTING_LAG_MS} ms after a create; first create answer lost: ${typeof lost === 'object' ? `HTTP ${lost.status}` : 'connection dropped'}`);
      await ctx.createMachine(T, name, cls);
      const { vm } = await ctx.step('Machine Running', () => ctx.waitMachineWithVm(T, name, 'Running'));
      const mine = (await ctx.f.vms()).filter((v) => v.machine === name || v.name === name);
      assert(mine.length === 1 && mine[0]!.id === vm.id, `exactly one VM in the fake for ${name}: ${fmtVms(mine)}`);
      const creates = (await ctx.f.createdMachines()).filter((n) => n === name).length;
      ctx.note(`${name}: ${mine.length} VM in the fake, ${creates} create request(s)`);
      assert(creates === 1, `exactly one create request for ${name} (the lost answer's request took effect), got ${creates}`);
      ctx.assertNoDuplicates();
      const now = await ctx.f.vms();
      for (const [what, v] of [
        ['VM of another cluster', foreign],
        ['hand-made VM', handMade],
      ] as const) {
        const x = now.find((y) => y.id === v.id);
        assert(x && !x.deleting, `${what} ${v.name} untouched (now: ${x ? x.status : 'gone'})`);
      }
      await ctx.f.setListingLag({});
      await ctx.step('delete: Machine + VM + Node gone', () => ctx.deleteMachineAndWait(T, name, vm.providerId, name));
    } finally {
      await ctx.f.setListingLag({}).catch(() => undefined);
      await ctx.f.clearFaults();
      await ctx.f.remove(foreign.id).catch(() => undefined);
      await ctx.f.remove(handMade.id).catch(() => undefined);
    }
  },
};

/** §3.4b: the sidecar is SIGKILLed while a create waits for its VM, then restarted: one VM. */
const sidecarKill: Scenario = {
  id: 'faults-kill',
  title: 'faults: sidecar SIGKILLed mid-create and restarted → no duplicate VM',
  timeoutMs: 15 * 60_000,
  exclusive: true,
  async run(ctx) {
    const cls = ctx.name('kill-class');
    const name = ctx.name('kill-machine');
    await ctx.cleanup(T, { machines: [name], classes: [cls] });
    await ctx.ensureClass(T, cls);
    await ctx.f.clearFaults();
    // The create's first look at its new VM hangs: a wide, deterministic "mid-create" window.
    await ctx.f.injectFault({ op: 'get', delayMs: 30_000, times: 1 });
    try {
      await ctx.createMachine(T, name, cls);
      const vm = await ctx.step('VM created, CreateMachine in flight', () =>
        waitUntil(
          `the fake holding a VM for ${name}`,
          async () => {
            const mine = (await ctx.vms(T)).filter((v) => v.machine === name);
            return { done: mine.length > 0, value: mine[0], state: fmtVms(mine) };
          },
          { timeoutMs: CONVERGE_MS, intervalMs: 100 },
        ),
      );
      await ctx.env.killSidecar('target');
      ctx.note(`sidecar SIGKILLed with VM ${vm!.name} in state ${vm!.status}`);
      // The hang was only there to hold the create open; the restarted sidecar must not meet it.
      await ctx.f.clearFaults();
      await sleep(2_000);
      await ctx.step('sidecar restarted', () => ctx.env.restartSidecar('target'));
      const { vm: after } = await ctx.step('Machine Running after the restart', () => ctx.waitMachineWithVm(T, name, 'Running'));
      assert(after.id === vm!.id, `the Machine adopted the VM created before the kill (${vm!.id}), got ${after.id}`);
      const creates = (await ctx.f.createdMachines()).filter((n) => n === name).length;
      assert(creates === 1, `exactly one create request for ${name}, got ${creates}`);
      ctx.assertNoDuplicates();
      await ctx.step('delete: Machine + VM + Node gone', () => ctx.deleteMachineAndWait(T, name, after.providerId, name));
    } finally {
      await ctx.f.clearFaults();
    }
  },
};

export const CLOUD_SCENARIOS: Scenario[] = [noTarget, targetMachine, deploymentScale, rollingUpdate, orphans, cloudFaults, lagLostAnswer, sidecarKill];
