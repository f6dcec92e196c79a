// The kind environment: kind/overlays/e2e deployed into a kind cluster (by
// `just test-e2e`), the suite running outside it. The scenarios are the same;
// only the plumbing differs:
//   - kubeconfig: $MCM_E2E_KUBECONFIG (the justfile writes `kind get kubeconfig` there) or $KUBECONFIG;
//   - fake clouds' admin API: `kubectl port-forward deploy/fake-cloud :18090`;
//   - killing the sidecar: `kubectl exec` into the sidecar container (the e2e
//     overlays set shareProcessNamespace, so PID 1 is the pause container and
//     the sidecar's node process can be SIGKILLed); the kubelet restarts it;
//   - logs: `kubectl logs`.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KUBECTL, kubectl } from '../controlplane/controlplane.js';
import type { CloudDescriptor } from '../clouds/types.js';
import { STACKS, WORK_ROOT, type Environment, type StackName } from './env.js';
import { FakeCloudClient, waitForAdmin } from './fake-cloud-client.js';
import { KubeClient } from './kube.js';
import { ProcessGroup } from './procs.js';
import { waitUntil } from './wait.js';

const DEPLOYMENT = 'machine-controller-manager';
const SIDECAR = 'mcm-driver-sidecar';
const FAKE_NS = 'mcm-e2e-cloud';
const FAKE_ADMIN_PORT = 18090;

/** Runs inside the sidecar container (distroless node): SIGKILL the `serve` process, not PID 1 (pause). */
const KILL_SCRIPT = [
  "const fs = require('fs');",
  'let n = 0;',
  "for (const d of fs.readdirSync('/proc')) {",
  '  if (!/^\\d+$/.test(d) || Number(d) === process.pid) continue;',
  "  let c = ''; try { c = fs.readFileSync('/proc/' + d + '/cmdline', 'utf8'); } catch { continue; }",
  "  if (c.includes('main.js') && c.includes('serve')) { process.kill(Number(d), 'SIGKILL'); n++; }",
  '}',
  "if (n !== 1) { console.error('killed ' + n + ' processes'); process.exit(1); }",
].join('\n');

export class KindEnvironment implements Environment {
  readonly name = 'kind' as const;
  readonly nodeHeartbeats = true;
  readonly runDir: string;
  readonly kubeconfig: string;
  private kubeClient?: KubeClient;
  private readonly procs: ProcessGroup;
  private adminUrl = '';
  private readonly restartsBefore = new Map<StackName, number>();

  constructor() {
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
    this.runDir = path.join(WORK_ROOT, `kind-${stamp}`);
    mkdirSync(this.runDir, { recursive: true });
    this.procs = new ProcessGroup(this.runDir);
    this.kubeconfig = process.env.MCM_E2E_KUBECONFIG ?? process.env.KUBECONFIG?.split(':')[0] ?? path.join(os.homedir(), '.kube', 'config');
    if (!existsSync(this.kubeconfig)) throw new Error(`kind environment: kubeconfig ${this.kubeconfig} not found (set MCM_E2E_KUBECONFIG)`);
  }

  get kube(): KubeClient {
    if (!this.kubeClient) throw new Error('environment not set up');
    return this.kubeClient;
  }

  async setup(_clouds: CloudDescriptor[]): Promise<void> {
    this.kubeClient = new KubeClient(this.kubeconfig);
    for (const s of Object.values(STACKS)) {
      await kubectl(this.kubeconfig, ['-n', s.namespace, 'rollout', 'status', `deployment/${DEPLOYMENT}`, '--timeout=5m']);
    }
    await kubectl(this.kubeconfig, ['-n', FAKE_NS, 'rollout', 'status', 'deployment/fake-cloud', '--timeout=5m']);

    const pf = this.procs.start({
      name: 'port-forward-fake-cloud',
      cmd: KUBECTL,
      args: ['--kubeconfig', this.kubeconfig, '-n', FAKE_NS, 'port-forward', 'deployment/fake-cloud', `:${FAKE_ADMIN_PORT}`],
    });
    const localPort = await waitUntil(
      'kubectl port-forward to the fake-cloud admin API',
      async () => {
        if (!pf.running()) throw new Error(`port-forward exited: ${readFileSync(pf.log, 'utf8')}`);
        const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(readFileSync(pf.log, 'utf8'));
        return { done: !!m, value: m?.[1] };
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    this.adminUrl = `http://127.0.0.1:${localPort}`;
    await waitForAdmin(this.adminUrl, 60_000, () => (pf.running() ? undefined : 'port-forward exited'));
  }

  fake(cloudId: string): FakeCloudClient {
    return new FakeCloudClient(this.adminUrl, cloudId);
  }

  private async sidecarRestarts(stack: StackName): Promise<{ restarts: number; ready: boolean }> {
    const ns = STACKS[stack].namespace;
    const pods = await this.kube.list(`/api/v1/namespaces/${ns}/pods`, 'role=machine-controller-manager');
    const live = pods.filter((p) => !p.metadata.deletionTimestamp);
    const st = live[0]?.status?.containerStatuses?.find((c: { name: string }) => c.name === SIDECAR);
    return { restarts: st?.restartCount ?? 0, ready: st?.ready === true };
  }

  async killSidecar(stack: StackName): Promise<void> {
    this.restartsBefore.set(stack, (await this.sidecarRestarts(stack)).restarts);
    await kubectl(this.kubeconfig, ['-n', STACKS[stack].namespace, 'exec', `deployment/${DEPLOYMENT}`, '-c', SIDECAR, '--', '/nodejs/bin/node', '-e', KILL_SCRIPT]);
  }

  async restartSidecar(stack: StackName): Promise<void> {
    const before = this.restartsBefore.get(stack) ?? 0;
    await waitUntil(
      `sidecar of ${stack} restarted by the kubelet and ready`,
      async () => {
        const s = await this.sidecarRestarts(stack);
        return { done: s.restarts > before && s.ready, state: JSON.stringify(s) };
      },
      { timeoutMs: 3 * 60_000, intervalMs: 500 },
    );
  }

  async diagnostics(): Promise<string> {
    const out: string[] = [];
    const targets: Array<[string, string]> = [
      ...Object.values(STACKS).map((s) => [s.namespace, `deployment/${DEPLOYMENT}`] as [string, string]),
      [FAKE_NS, 'deployment/fake-cloud'],
    ];
    for (const [ns, deploy] of targets) {
      try {
        out.push(`--- ${ns} ${deploy}:\n${await kubectl(this.kubeconfig, ['-n', ns, 'logs', deploy, '--all-containers', '--prefix', '--tail=40'])}`);
      } catch (err) {
        out.push(`--- ${ns} ${deploy}: ${(err as Error).message}`);
      }
    }
    return out.join('\n');
  }

  async describe(): Promise<Record<string, string[]>> {
    const out: Record<string, string[]> = {};
    for (const s of Object.values(STACKS)) {
      const d = await this.kube.get(`/apis/apps/v1/namespaces/${s.namespace}/deployments/${DEPLOYMENT}`);
      for (const c of d?.spec?.template?.spec?.containers ?? []) out[`${c.name} (${s.name})`] = c.args ?? [];
    }
    return out;
  }

  async teardown(): Promise<void> {
    await this.procs.stopAll();
    this.kubeClient?.close();
  }
}
