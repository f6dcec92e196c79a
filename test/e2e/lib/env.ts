// The "environment" the scenarios run in. The scenarios (../scenarios/) only
// use this interface, so the same code runs against
// - LocalEnvironment (local-env.ts): etcd + kube-apiserver + MCM core + bridge
//   + sidecar + fake clouds + Prism as processes on 127.0.0.1 (CI, no Docker);
// - KindEnvironment (kind-env.ts): everything deployed by kind/overlays/e2e
//   into a kind cluster, the suite outside it.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CloudDescriptor } from '../clouds/types.js';
import type { FakeCloudClient } from './fake-cloud-client.js';
import type { KubeClient } from './kube.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const WORK_ROOT = path.join(REPO_ROOT, 'test', 'e2e', '.work');

/**
 * Two MCM stacks, each watching its own control namespace (= the cluster
 * marker the driver writes on VMs). The kind overlays deploy the same two
 * namespaces (kind/overlays/target, kind/overlays/notarget); scenario 5
 * checks that they still agree.
 */
export const STACKS = {
  /** MCM core + bridge + sidecar with a target cluster (the same apiserver). */
  target: { name: 'target', namespace: 'shoot--e2e--target', hasTarget: true },
  /** bridge + sidecar with --target-kubeconfig=none (no MCM core: bare Machines only). */
  notarget: { name: 'notarget', namespace: 'shoot--e2e--notarget', hasTarget: false },
} as const;
export type StackName = keyof typeof STACKS;

/** --machine-safety-orphan-vms-period of the bridges (local flags and the kind overlays). */
export const ORPHAN_SWEEP_PERIOD = '10s';
export const ORPHAN_SWEEP_PERIOD_MS = 10_000;

export interface Environment {
  readonly name: 'local' | 'kind';
  /** Directory for logs and the summary of this run. */
  readonly runDir: string;
  /** Admin kubeconfig of the control (= target) cluster. */
  readonly kubeconfig: string;
  readonly kube: KubeClient;
  /**
   * True when a node-lifecycle controller runs (kind): simulated Nodes then
   * need heartbeats (Lease + Ready condition) or they turn Unknown after ~40 s.
   */
  readonly nodeHeartbeats: boolean;

  /**
   * Loopback URLs of the apiserver and of each cloud's API (Prism), for a
   * container on the host network (scenarios/provider-container.ts). Local only.
   */
  hostEndpoints?(): { apiserverUrl: string; cloudApiUrls: Record<string, string> };

  setup(clouds: CloudDescriptor[]): Promise<void>;
  fake(cloudId: string): FakeCloudClient;
  /** SIGKILL the driver sidecar of a stack. */
  killSidecar(stack: StackName): Promise<void>;
  /** Bring it back (local: start it again; kind: wait for the kubelet's restart). */
  restartSidecar(stack: StackName): Promise<void>;
  /** Log tails of every component, for a failing scenario. */
  diagnostics(): Promise<string>;
  /** Command lines of the components, for the report. */
  describe(): Promise<Record<string, string[]>>;
  teardown(): Promise<void>;
}

export async function createEnvironment(): Promise<Environment> {
  const which = process.env.MCM_E2E_ENV ?? 'local';
  if (which === 'local') return new (await import('./local-env.js')).LocalEnvironment();
  if (which === 'kind') return new (await import('./kind-env.js')).KindEnvironment();
  throw new Error(`MCM_E2E_ENV=${which}: want local or kind`);
}
