/**
 * Labels that tie a server to its Machine, MachineClass and cluster. The first
 * two are the ones STACKIT's own Go MCM provider sets
 * (machine-controller-manager-provider-stackit pkg/provider/create.go,
 * createServerRequest), so a cluster can move between the two drivers without
 * orphaning VMs. The Go provider lists by class label only, which lists
 * another cluster's servers when two clusters share a project and a class
 * name; this driver also requires a cluster marker (clusterMarker below).
 */
export const MACHINE_LABEL = 'kubernetes.io/machine';
export const MACHINE_CLASS_LABEL = 'kubernetes.io/machineclass';
/** The namespace marker: value = the MachineClass's namespace (the shoot's control-plane namespace under Gardener). */
export const CLUSTER_LABEL = 'mcm-grpc-driver.io/cluster';
/**
 * The label Gardener's STACKIT extension writes into providerSpec.labels with
 * the shoot's technical ID (gardener-extension-provider-stackit
 * pkg/controller/worker/machines.go: tags = { ClusterLabelKey(customLabelDomain):
 * TechnicalID }, pkg/utils/utils.go: ClusterLabelKey = "<domain>/cluster",
 * domain kubernetes.io unless the operator configures customLabelDomain). The
 * Go provider copies class labels onto every server it makes, so its servers
 * carry it next to kubernetes.io/machine and kubernetes.io/machineclass.
 */
export const GARDENER_CLUSTER_LABEL = 'kubernetes.io/cluster';

export interface ClusterMarker {
  key: string;
  value: string;
}

/**
 * The label that scopes listing, adoption and orphan collection to one
 * cluster. A class that carries kubernetes.io/cluster is scoped by it, so the
 * Go provider's servers are found and adopted as they are; otherwise by the
 * namespace marker. A server without the marker is never listed.
 */
export function clusterMarker(classLabels: Record<string, string> | undefined, namespace: string): ClusterMarker {
  const gardener = classLabels?.[GARDENER_CLUSTER_LABEL];
  return gardener ? { key: GARDENER_CLUSTER_LABEL, value: gardener } : { key: CLUSTER_LABEL, value: namespace };
}

/** `k1=v1,k2=v2`, the label_selector grammar STACKIT's own provider uses. */
export function labelSelector(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}
