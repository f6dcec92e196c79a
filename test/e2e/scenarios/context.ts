// What every scenario gets, and the Kubernetes/fake-cloud helpers they share.
import type { CloudDescriptor, NormalizedVm } from '../clouds/types.js';
import type { Environment } from '../lib/env.js';
import type { FakeCloudClient } from '../lib/fake-cloud-client.js';
import { paths, type KubeClient, type KubeObject } from '../lib/kube.js';
import { since, waitUntil } from '../lib/wait.js';

/**
 * Convergence waits are generous: this suite shares 2 cores with other test
 * runs. A healthy run converges in seconds to a minute per step.
 */
export const CONVERGE_MS = Number(process.env.MCM_E2E_CONVERGE_TIMEOUT_MS ?? 6 * 60_000);

export interface Step {
  label: string;
  seconds: number;
}

export class ScenarioContext {
  readonly steps: Step[] = [];
  readonly notes: string[] = [];
  /** `<cluster>/<machine>` of every Machine the fake was ever seen to hold two VMs for. */
  readonly duplicates = new Set<string>();

  constructor(
    readonly env: Environment,
    readonly cloud: CloudDescriptor | undefined,
    readonly fake: FakeCloudClient | undefined,
  ) {}

  get kube(): KubeClient {
    return this.env.kube;
  }

  get c(): CloudDescriptor {
    if (!this.cloud) throw new Error('scenario needs a cloud');
    return this.cloud;
  }

  get f(): FakeCloudClient {
    if (!this.fake) throw new Error('scenario needs a fake cloud');
    return this.fake;
  }

  /** Object name prefix: the cloud id. */
  name(suffix: string): string {
    return `${this.c.id}-${suffix}`;
  }

  /** Runs one convergence step and records how long it took. */
  async step<T>(label: string, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    const value = await fn();
    this.steps.push({ label, seconds: since(t0) });
    progressLine(`  ${this.cloud?.id ?? '-'}: ${label} (${since(t0)} s)`);
    return value;
  }

  note(text: string): void {
    this.notes.push(text);
  }

  /** VMs of a cluster (control namespace), noting any Machine with more than one. */
  async vms(cluster: string, classes?: string[]): Promise<NormalizedVm[]> {
    const all = await this.f.clusterVms(cluster);
    const byMachine = new Map<string, number>();
    for (const v of all) if (v.machine) byMachine.set(v.machine, (byMachine.get(v.machine) ?? 0) + 1);
    for (const [m, n] of byMachine) if (n > 1) this.duplicates.add(`${cluster}/${m}`);
    return classes ? all.filter((v) => classes.includes(v.machineClass ?? '')) : all;
  }

  assertNoDuplicates(): void {
    if (this.duplicates.size > 0) throw new Error(`duplicate VMs were seen for: ${[...this.duplicates].join(', ')}`);
  }

  // ---- objects -------------------------------------------------------------

  async ensureSecret(ns: string, name: string): Promise<void> {
    await this.kube.upsert(paths.secrets(ns), {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace: ns },
      type: 'Opaque',
      stringData: this.c.secretData(),
    });
  }

  /** A MachineClass of this cloud (and its Secret, named after it). */
  async ensureClass(ns: string, name: string, variant: 'v1' | 'v2' = 'v1'): Promise<void> {
    const secret = `${name}-secret`;
    await this.ensureSecret(ns, secret);
    await this.kube.upsert(paths.mcm(ns, 'machineclasses'), {
      apiVersion: 'machine.sapcloud.io/v1alpha1',
      kind: 'MachineClass',
      metadata: { name, namespace: ns },
      provider: this.c.provider,
      providerSpec: this.c.providerSpec(variant),
      secretRef: { name: secret, namespace: ns },
      credentialsSecretRef: { name: secret, namespace: ns },
    });
  }

  async createMachine(ns: string, name: string, className: string): Promise<void> {
    await this.kube.create(paths.mcm(ns, 'machines'), {
      apiVersion: 'machine.sapcloud.io/v1alpha1',
      kind: 'Machine',
      metadata: { name, namespace: ns },
      spec: { class: { kind: 'MachineClass', name: className } },
    });
  }

  async upsertDeployment(ns: string, name: string, className: string, replicas: number): Promise<void> {
    await this.kube.upsert(paths.mcm(ns, 'machinedeployments'), {
      apiVersion: 'machine.sapcloud.io/v1alpha1',
      kind: 'MachineDeployment',
      metadata: { name, namespace: ns },
      spec: {
        replicas,
        minReadySeconds: 0,
        // MCM rejects a MachineDeployment without both.
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
        selector: { matchLabels: { 'e2e-pool': name } },
        template: {
          metadata: { labels: { 'e2e-pool': name } },
          spec: { class: { kind: 'MachineClass', name: className } },
        },
      },
    });
  }

  async scaleDeployment(ns: string, name: string, replicas: number): Promise<void> {
    await this.kube.patch(`${paths.mcm(ns, 'machinedeployments')}/${name}`, { spec: { replicas } });
  }

  async machine(ns: string, name: string): Promise<KubeObject | undefined> {
    return this.kube.get(`${paths.mcm(ns, 'machines')}/${name}`);
  }

  // ---- waits ---------------------------------------------------------------

  /** Waits for a Machine in `phase` with a providerID, and checks the fake holds exactly its VM. */
  async waitMachineWithVm(ns: string, name: string, phase: string): Promise<{ machine: KubeObject; vm: NormalizedVm }> {
    const phasesSeen = new Set<string>();
    const r = await waitUntil(
      `Machine ${ns}/${name} ${phase} with its VM`,
      async () => {
        const m = await this.machine(ns, name);
        const p = phaseOf(m);
        phasesSeen.add(p || '""');
        const mine = (await this.vms(ns)).filter((v) => v.machine === name);
        const state = `phase=${p || '""'} providerID=${m?.spec?.providerID || '-'} lastOp=${lastOp(m)} vms=${fmtVms(mine)}`;
        const done = p === phase && !!m?.spec?.providerID && mine.length === 1 && mine[0]!.providerId === m.spec.providerID && !mine[0]!.deleting;
        return { done, value: done ? { machine: m!, vm: mine[0]! } : undefined, state };
      },
      { timeoutMs: CONVERGE_MS },
    );
    if (phasesSeen.size > 1) this.note(`${name}: phases ${[...phasesSeen].join(' → ')}`);
    return r;
  }

  /** Deletes a Machine; waits until the Machine, its VM and (if any) its Node are gone. */
  async deleteMachineAndWait(ns: string, name: string, providerId: string, nodeName?: string): Promise<void> {
    await this.kube.delete(`${paths.mcm(ns, 'machines')}/${name}`);
    await waitUntil(
      `Machine ${ns}/${name}, its VM${nodeName ? ' and Node' : ''} gone`,
      async () => {
        const m = await this.machine(ns, name);
        const vm = (await this.vms(ns)).filter((v) => v.providerId === providerId || v.machine === name);
        const node = nodeName ? await this.kube.get(`/api/v1/nodes/${nodeName}`) : undefined;
        return {
          done: !m && vm.length === 0 && !node,
          state: `machine=${m ? `${phaseOf(m)} lastOp=${lastOp(m)}` : 'gone'} vms=${fmtVms(vm)} node=${node ? 'present' : 'gone'}`,
        };
      },
      { timeoutMs: CONVERGE_MS },
    );
  }

  /**
   * Waits until a MachineDeployment has exactly `replicas` Running Machines
   * (none terminating), the fake holds exactly their VMs (same providerIDs,
   * one per Machine) and nothing else for the deployment's classes.
   */
  async waitDeployment(
    ns: string,
    md: string,
    classes: string[],
    replicas: number,
    opts: { className?: string; notIds?: Set<string> } = {},
  ): Promise<{ machines: KubeObject[]; vms: NormalizedVm[]; peakVms: number }> {
    let peakVms = 0;
    const r = await waitUntil(
      `MachineDeployment ${ns}/${md} at ${replicas} Running Machine(s)${opts.className ? ` of ${opts.className}` : ''} with exactly as many VMs`,
      async () => {
        const machines = await this.kube.list(paths.mcm(ns, 'machines'), `e2e-pool=${md}`);
        const vms = await this.vms(ns, classes);
        peakVms = Math.max(peakVms, vms.length);
        const ids = new Set(machines.map((m) => m.spec?.providerID as string));
        const ok =
          machines.length === replicas &&
          machines.every((m) => !m.metadata.deletionTimestamp && phaseOf(m) === 'Running' && m.spec?.providerID) &&
          machines.every((m) => !opts.className || m.spec?.class?.name === opts.className) &&
          vms.length === replicas &&
          vms.every((v) => !v.deleting && ids.has(v.providerId) && machines.some((m) => m.metadata.name === v.machine && m.spec?.providerID === v.providerId)) &&
          vms.every((v) => !opts.className || v.machineClass === opts.className) &&
          vms.every((v) => !opts.notIds?.has(v.id));
        const state = `machines=[${machines.map((m) => `${m.metadata.name}(${phaseOf(m) || '""'}${m.metadata.deletionTimestamp ? ',deleting' : ''},${m.spec?.class?.name})`).join(' ')}] vms=${fmtVms(vms)}`;
        return { done: ok, value: { machines, vms, peakVms }, state };
      },
      { timeoutMs: CONVERGE_MS },
    );
    return { ...r, peakVms };
  }

  /** Deletes a MachineDeployment and waits until it, its MachineSets, Machines and VMs are gone. */
  async deleteDeploymentAndWait(ns: string, md: string, classes: string[]): Promise<void> {
    await this.kube.delete(`${paths.mcm(ns, 'machinedeployments')}/${md}`);
    await waitUntil(
      `MachineDeployment ${ns}/${md}, its MachineSets, Machines and VMs gone`,
      async () => {
        const d = await this.kube.get(`${paths.mcm(ns, 'machinedeployments')}/${md}`);
        const sets = await this.kube.list(paths.mcm(ns, 'machinesets'), `e2e-pool=${md}`);
        const machines = await this.kube.list(paths.mcm(ns, 'machines'), `e2e-pool=${md}`);
        const vms = await this.vms(ns, classes);
        return {
          done: !d && sets.length === 0 && machines.length === 0 && vms.length === 0,
          state: `md=${d ? 'present' : 'gone'} machinesets=${sets.length} machines=${machines.length} vms=${fmtVms(vms)}`,
        };
      },
      { timeoutMs: CONVERGE_MS },
    );
  }

  /** Best effort: removes what a failed earlier attempt of a scenario left (Machines by name, a MachineDeployment). */
  async cleanup(ns: string, opts: { machines?: string[]; deployment?: string; classes?: string[] }): Promise<void> {
    let deleted = false;
    for (const m of opts.machines ?? []) deleted = (await this.kube.delete(`${paths.mcm(ns, 'machines')}/${m}`)) || deleted;
    if (opts.deployment) deleted = (await this.kube.delete(`${paths.mcm(ns, 'machinedeployments')}/${opts.deployment}`)) || deleted;
    if (!deleted) return;
    this.note('cleaned up leftovers of an earlier attempt');
    await waitUntil(
      'leftovers gone',
      async () => {
        const left = [];
        for (const m of opts.machines ?? []) if (await this.machine(ns, m)) left.push(m);
        if (opts.deployment) left.push(...(await this.kube.list(paths.mcm(ns, 'machines'), `e2e-pool=${opts.deployment}`)).map((m) => m.metadata.name));
        const vms = opts.classes ? await this.vms(ns, opts.classes) : [];
        return { done: left.length === 0 && vms.length === 0, state: `machines=${left.join(',')} vms=${fmtVms(vms)}` };
      },
      { timeoutMs: CONVERGE_MS },
    );
  }
}

export function phaseOf(m: KubeObject | undefined): string {
  return (m?.status?.currentStatus?.phase as string | undefined) ?? '';
}

function lastOp(m: KubeObject | undefined): string {
  const op = m?.status?.lastOperation;
  if (!op) return '-';
  const d = String(op.description ?? '').slice(0, 160);
  return `${op.type}/${op.state}${op.errorCode ? `/${op.errorCode}` : ''} "${d}"`;
}

export function fmtVms(vms: NormalizedVm[]): string {
  return `[${vms.map((v) => `${v.name}(${v.status}${v.machineClass ? `,${v.machineClass}` : ''})`).join(' ')}]`;
}

export function progressLine(msg: string): void {
  process.stderr.write(`[e2e ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

export function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

