// The suite plays kubelet (mcm-contract.md §9): for every Machine of a
// namespace that has a `node` label (set by MCM from CreateMachine's
// NodeName) and is not being deleted, it creates that Node once and sets
// Ready=True through the status subresource (the status UPDATE is what makes
// MCM look at the Machine again). It never re-creates a Node MCM deleted.
// Where a node-lifecycle controller runs (kind), it also keeps a Lease and
// the Ready heartbeat fresh so the Node does not turn Unknown.
import { KubeError, paths, type KubeClient, type KubeObject } from './kube.js';

export class KubeletSimulator {
  /** Machine uid → node name, for Nodes this simulator created. */
  private readonly created = new Map<string, string>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private lastHeartbeat = 0;
  private stopped = false;
  readonly errors: string[] = [];

  constructor(
    private readonly kube: KubeClient,
    private readonly namespace: string,
    private readonly opts: { heartbeats: boolean; intervalMs?: number } = { heartbeats: false },
  ) {}

  start(): void {
    const tick = (): void => {
      if (this.stopped) return;
      this.running = this.reconcile()
        .catch((err: unknown) => {
          this.errors.push((err as Error).message);
          if (this.errors.length > 20) this.errors.shift();
        })
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.opts.intervalMs ?? 500);
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** Node names created so far. */
  nodes(): string[] {
    return [...this.created.values()];
  }

  private async reconcile(): Promise<void> {
    const machines = await this.kube.list(paths.mcm(this.namespace, 'machines'));
    for (const m of machines) {
      const node = m.metadata.labels?.node;
      const uid = m.metadata.uid ?? m.metadata.name;
      if (!node || m.metadata.deletionTimestamp || this.created.has(uid)) continue;
      await this.boot(m, node);
      this.created.set(uid, node);
    }
    if (this.opts.heartbeats && Date.now() - this.lastHeartbeat > 10_000) {
      this.lastHeartbeat = Date.now();
      await this.heartbeat();
    }
  }

  private async boot(machine: KubeObject, name: string): Promise<void> {
    try {
      await this.kube.create(paths.nodes(), {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name, labels: { 'kubernetes.io/hostname': name, 'mcm-grpc-driver.io/e2e-simulated': 'true' } },
        // Keeps real workloads (kind) off a Node that has no kubelet; MCM only cares about its critical-components taint.
        spec: {
          providerID: machine.spec?.providerID || undefined,
          taints: [{ key: 'mcm-grpc-driver.io/e2e-simulated', value: 'true', effect: 'NoSchedule' }],
        },
      });
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 409)) throw err;
    }
    await this.setReady(name);
  }

  private async setReady(name: string): Promise<void> {
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    await this.kube.patch(`${paths.nodes()}/${name}/status`, {
      status: {
        conditions: [
          { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'simulated by the e2e suite', lastHeartbeatTime: now, lastTransitionTime: now },
        ],
        addresses: [{ type: 'Hostname', address: name }],
      },
    }, 'strategic');
  }

  private async heartbeat(): Promise<void> {
    for (const name of new Set(this.created.values())) {
      const node = await this.kube.get(`${paths.nodes()}/${name}`);
      if (!node || node.metadata.deletionTimestamp) continue;
      await this.setReady(name);
      const lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace: 'kube-node-lease' },
        spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: new Date().toISOString().replace('Z', '000Z') },
      };
      await this.kube.upsert(paths.leases('kube-node-lease'), lease);
    }
  }
}
