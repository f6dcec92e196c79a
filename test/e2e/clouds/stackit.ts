// STACKIT IaaS v2 for the e2e suite: the stateful fake of test/fakes/stackit,
// Prism validating against specs/stackit-iaas.yaml (or $STACKIT_SPEC), a
// static-token Secret.
import type { CloudDescriptor, FakeCloudInstance, FakeTiming, FaultRequest, NormalizedVm } from './types.js';

const PROJECT_ID = '3f1c2a4b-5d6e-4f70-8a9b-0c1d2e3f4a5b';
const REGION = 'eu01';
const TOKEN = 'fake-static-token';

// Same keys as src/providers/stackit/markers.ts (not imported: the suite checks the driver, it does not share its code).
const MACHINE_LABEL = 'kubernetes.io/machine';
const CLASS_LABEL = 'kubernetes.io/machineclass';
const CLUSTER_LABEL = 'mcm-grpc-driver.io/cluster';

const SERVERS = String.raw`/v2/projects/[^/]+/regions/[^/]+/servers`;
const UUID = '[0-9a-fA-F-]{36}';
const FAULT_ROUTES: Record<FaultRequest['op'], { method?: string; path: RegExp }> = {
  create: { method: 'POST', path: new RegExp(`^${SERVERS}/?$`) },
  list: { method: 'GET', path: new RegExp(`^${SERVERS}/?$`) },
  get: { method: 'GET', path: new RegExp(`^${SERVERS}/${UUID}$`) },
  delete: { method: 'DELETE', path: new RegExp(`^${SERVERS}/${UUID}$`) },
  any: { path: new RegExp(`^${SERVERS}`) },
};

export const stackit: CloudDescriptor = {
  id: 'stackit',
  provider: 'STACKIT',
  specFile: process.env.STACKIT_SPEC || 'specs/stackit-iaas.yaml',

  sidecarEnv: (apiUrl) => ({ STACKIT_API_ENDPOINT: apiUrl }),

  secretData: () => ({
    'project-id': PROJECT_ID,
    token: TOKEN,
    userData: '#cloud-config\nruncmd:\n  - echo "joining as <<MACHINE_NAME>> with <<BOOTSTRAP_TOKEN>>"\n',
  }),

  providerSpec: (variant) => ({
    region: REGION,
    machineType: variant === 'v1' ? 'c2i.2' : 'c2i.4',
    imageId: '0b5f7e4c-1b7a-4c1e-9b65-2d0c9c1e7a11',
    networking: { networkId: '7c1d3e2f-5a6b-4c8d-9e0f-1a2b3c4d5e6f' },
  }),

  async fake(timing: FakeTiming, port: number): Promise<FakeCloudInstance> {
    const { startStackitFake } = await import('../../fakes/stackit/index.js');
    const fake = await startStackitFake({ ...timing, port });
    const normalize = (s: { id: string; projectId: string; name: string; status: string; labels: Record<string, string>; userData?: string }): NormalizedVm => ({
      id: s.id,
      providerId: `stackit://${s.projectId}/${s.id}`,
      name: s.name,
      status: s.status,
      deleting: s.status === 'DELETING',
      machine: s.labels[MACHINE_LABEL],
      machineClass: s.labels[CLASS_LABEL],
      cluster: s.labels[CLUSTER_LABEL],
      userData: s.userData === undefined ? undefined : Buffer.from(s.userData, 'base64').toString('utf8'),
    });
    return {
      url: fake.url,
      vms: () => fake.servers().map(normalize),
      seed: (req) =>
        normalize(
          fake.seedServer({
            projectId: PROJECT_ID,
            region: REGION,
            name: req.name,
            labels: req.markers
              ? { [MACHINE_LABEL]: req.markers.machine, [CLASS_LABEL]: req.markers.machineClass, [CLUSTER_LABEL]: req.markers.cluster }
              : { purpose: 'hand-made' },
          }),
        ),
      async remove(id) {
        const s = fake.servers().find((x) => x.id === id);
        if (!s) return;
        const res = await fetch(`${fake.url}/v2/projects/${s.projectId}/regions/${s.region}/servers/${id}`, {
          method: 'DELETE',
          headers: { authorization: `Bearer ${TOKEN}` },
        });
        if (res.status !== 204 && res.status !== 404) throw new Error(`fake DELETE ${id}: ${res.status}`);
      },
      injectFault: (f) => fake.injectFault({ ...FAULT_ROUTES[f.op], status: f.status, times: f.times, delayMs: f.delayMs, afterSuccess: f.afterSuccess, headers: f.headers }),
      clearFaults: () => fake.clearFaults(),
      createdMachines: () =>
        fake.requests
          .filter((r) => r.method === 'POST' && FAULT_ROUTES.create.path.test(r.path))
          .map((r) => String((r.body as { name?: unknown } | undefined)?.name ?? '')),
      close: () => fake.close(),
    };
  },
};
