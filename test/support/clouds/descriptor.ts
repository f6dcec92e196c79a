// One test descriptor per cloud: the facts every test layer used to restate on its own (the
// in-process harnesses, the reliability kits and their fault table, the e2e fake cloud): the
// account the fakes know, the markers a VM of a Machine carries, which cloud request each MCM
// operation's fault hits, and the cloud's own error bodies. The keys mirror the driver's
// (src/providers/*/markers.ts) but are written out, not imported: the tests check the driver.

export type CloudName = 'stackit' | 'cloudsigma' | 'vpsie';

/** The cloud request a fault on each MCM operation hits (method and path of the fake's request, query excluded). */
export interface OperationRoutes {
  /** CreateMachine's create request. */
  create: { method: string; path: RegExp };
  /** CreateMachine's lookup by markers (adoption), and the lookup after an unknown outcome. */
  lookup: { method: string; path: RegExp };
  /** GetMachineStatus with spec.providerID: the read of that VM. */
  get: { method: string; path: RegExp };
  /** DeleteMachine's delete request. */
  delete: { method: string; path: RegExp };
  /** ListMachines' listing. */
  list: { method: string; path: RegExp };
  /** Every request of the cloud's VM API (for faults on "anything"). */
  any: { method?: string; path: RegExp };
}

/** The Machine and class every loopback test uses, and the cluster (namespace) they live in. */
export const TEST_MACHINES = { namespace: 'shoot--garden--alpha', className: 'alpha-worker-z1', otherCluster: 'shoot--garden--beta' };

export interface CloudTestDescriptor {
  cloud: CloudName;
  /** MachineClass.provider. */
  provider: string;
  /** The spec Prism validates against, relative to the package root. */
  specFile: string;
  /** Marker keys on a VM (STACKIT labels, CloudSigma meta; VPSie tag prefixes, the value follows). */
  markers: { machine: string; machineClass: string; cluster: string };
  routes: OperationRoutes;
  /** "HTTP 200 with an error body" in this cloud's own error format. */
  errorBody200: unknown;
}
