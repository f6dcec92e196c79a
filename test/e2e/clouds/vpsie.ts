// VPSie for the e2e suite: the stateful fake of test/fakes/vpsie (asynchronous
// creates: a VM is pending, then listed, then running; the driver discovers it
// by hostname = Machine name and its notes marker line), Prism validating
// against specs/vpsie.yaml.
import { VPSIE_ACCOUNT } from '../../support/clouds/index.js';
import type { CloudDescriptor, FakeCloudInstance, FakeTiming, FaultRequest, NormalizedVm } from './types.js';

// The account of the one VPSie test descriptor (test/support/clouds/vpsie.ts).
const { token: TOKEN, accountPassword: ACCOUNT_PASSWORD, projectId: PROJECT_ID } = VPSIE_ACCOUNT;

// src/providers/vpsie/markers.ts: the notes marker `mcm-grpc-driver: cluster=<ns> class=<class> machine=<name>;`
// anywhere in the notes (the `;` ends the value; the older form without it, as the last line, too).
const NOTES_LINE = /mcm-grpc-driver: cluster=([^\s;]+) class=([^\s;]+) machine=([^\s;]+)/;

const API = '/apps/v2';
const FAULT_ROUTES: Record<FaultRequest['op'], { method?: string; path: RegExp }> = {
  create: { method: 'POST', path: new RegExp(`^${API}/vm$`) },
  list: { method: 'GET', path: new RegExp(`^${API}/vm(/pending)?$`) },
  get: { method: 'GET', path: new RegExp(`^${API}/vm/(?!pending$)[^/]+$`) },
  delete: { method: 'DELETE', path: new RegExp(`^${API}/vm$`) },
  any: { path: new RegExp(`^${API}/vm`) },
};

export const vpsie: CloudDescriptor = {
  id: 'vpsie',
  provider: 'VPSie',
  specFile: 'specs/vpsie.yaml',

  // Discovery of an asynchronously created VM polls; the default 5 s interval would dominate every create here.
  sidecarEnv: (apiUrl) => ({ VPSIE_API_ENDPOINT: `${apiUrl}${API}` }),

  secretData: () => ({
    'api-token': TOKEN,
    'account-password': ACCOUNT_PASSWORD,
    userData: '#cloud-config\nruncmd:\n  - echo "joining as <<MACHINE_NAME>> with <<BOOTSTRAP_TOKEN>>"\n',
  }),

  providerSpec: (variant) => ({
    projectId: PROJECT_ID,
    dcIdentifier: 'dc-ny-1',
    resourceIdentifier: variant === 'v1' ? 'plan-4c-8g' : 'plan-8c-16g',
    osIdentifier: 'ubuntu-24-04',
  }),

  async fake(timing: FakeTiming, port: number): Promise<FakeCloudInstance> {
    const { startVpsieFake } = await import('../../fakes/vpsie/index.js');
    const fake = await startVpsieFake({
      port,
      pendingAfterMs: 0,
      visibleAfterMs: Math.round(timing.activeAfterMs / 2),
      runningAfterMs: Math.round(timing.activeAfterMs / 2),
      deleteAfterMs: timing.deleteAfterMs,
    });
    // Boot data: base64 userData, or (the driver's default) a per-Machine script.
    const bootData = (v: { userData?: string; scriptIdentifier?: string }): string | undefined => {
      if (v.userData !== undefined) return Buffer.from(v.userData, 'base64').toString('utf8');
      return v.scriptIdentifier ? fake.scripts().find((x) => x.identifier === v.scriptIdentifier)?.script : undefined;
    };
    const normalize = (v: { identifier: string; hostname: string; phase: string; notes?: string; userData?: string; scriptIdentifier?: string }): NormalizedVm => {
      const m = NOTES_LINE.exec(v.notes ?? '');
      return {
        id: v.identifier,
        providerId: `vpsie://${v.identifier}`,
        name: v.hostname,
        status: v.phase,
        deleting: v.phase === 'deleting',
        cluster: m?.[1],
        machineClass: m?.[2],
        machine: m?.[3],
        userData: bootData(v),
      };
    };
    return {
      url: fake.url,
      vms: () => fake.vms().map(normalize),
      seed: (req) =>
        normalize(
          fake.seedVm({
            hostname: req.name,
            projectId: PROJECT_ID,
            notes: req.markers
              ? `mcm-grpc-driver: cluster=${req.markers.cluster} class=${req.markers.machineClass} machine=${req.markers.machine}`
              : 'hand-made',
            tags: req.markers ? [`mcm-cluster:${req.markers.cluster}`, `mcm-class:${req.markers.machineClass}`, `mcm-machine:${req.markers.machine}`] : [],
          }),
        ),
      async remove(id) {
        if (!fake.vms().some((v) => v.identifier === id)) return;
        const res = await fetch(`${fake.apiUrl}/vm`, {
          method: 'DELETE',
          headers: { 'content-type': 'application/json', 'Vpsie-Auth': TOKEN },
          body: JSON.stringify({ vmIdentifier: id, password: ACCOUNT_PASSWORD, deleteStatistic: { reason: 'e2e cleanup', note: '' } }),
        });
        if (res.status !== 200 && res.status !== 404) throw new Error(`fake DELETE ${id}: ${res.status} ${await res.text()}`);
      },
      injectFault: (f) => fake.injectFault({ ...FAULT_ROUTES[f.op], status: f.status, times: f.times, delayMs: f.delayMs, afterSuccess: f.afterSuccess, headers: f.headers }),
      clearFaults: () => fake.clearFaults(),
      // GET /vm lags; the VM stays in the pending view meanwhile (test/fakes/vpsie/listing.ts).
      setListingLag: (lag) => fake.setListingLag(lag),
      createdMachines: () =>
        fake.requests
          .filter((r) => r.method === 'POST' && FAULT_ROUTES.create.path.test(r.path))
          .map((r) => String((r.body as { hostname?: unknown } | undefined)?.hostname ?? '')),
      close: () => fake.close(),
    };
  },
};
