/**
 * Labels that tie a server to its Machine, MachineClass and cluster. The first
 * two are the ones STACKIT's own Go MCM provider sets, so a cluster can move
 * between the two drivers without orphaning VMs. The cluster label is ours:
 * the Go provider lists by class label only, which lists another cluster's
 * servers when two clusters share a project and a class name.
 */
export const MACHINE_LABEL = 'kubernetes.io/machine';
export const MACHINE_CLASS_LABEL = 'kubernetes.io/machineclass';
export const CLUSTER_LABEL = 'mcm-grpc-driver.io/cluster';

/** `k1=v1,k2=v2`, the label_selector grammar STACKIT's own provider uses. */
export function labelSelector(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}
