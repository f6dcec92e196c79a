// STACKIT IaaS v2 for the e2e suite: the stateful fake of test/fakes/stackit,
// Prism validating against specs/stackit-iaas.yaml (or $STACKIT_SPEC), a
// static-token Secret.
import { STACKIT_ACCOUNT, STACKIT_TEST } from '../../support/clouds/index.js';
import type { CloudDescriptor, FakeCloudInstance, FakeTiming, FaultRequest, NormalizedVm } from './types.js';

// The account, markers and fault routes of the one STACKIT test descriptor (test/support/clouds/stackit.ts).
const { projectId: PROJECT_ID, region: REGION, staticToken: TOKEN } = STACKIT_ACCOUNT;
const { machine: MACHINE_LABEL, machineClass: CLASS_LABEL, cluster: CLUSTER_LABEL } = STACKIT_TEST.markers;
const { create, list, get, delete: del, any } = STACKIT_TEST.routes;
const FAULT_ROUTES: Record<FaultRequest['op'], { method?: string; path: RegExp }> = { create, list, get, delete: del, any };

export const stackit: CloudDescriptor = {
  id: 'stackit',
  provider: STACKIT_TEST.provider,
  specFile: process.env.STACKIT_SPEC || STACKIT_TEST.specFile,

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
      setListingLag: (lag) => fake.setListingLag(lag),
      createdMachines: () =>
        fake.requests
          .filter((r) => r.method === 'POST' && FAULT_ROUTES.create.path.test(r.path))
          .map((r) => String((r.body as { name?: unknown } | undefined)?.name ?? '')),
      close: () => fake.close(),
    };
  },
};
