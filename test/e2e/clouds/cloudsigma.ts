// CloudSigma API 2.0 for the e2e suite: the stateful fake of test/fakes/cloudsigma
// (a server is a cloned boot drive + a server, started), Prism validating
// against specs/cloudsigma.yaml, HTTP Basic credentials of the fake's user.
import { CLOUDSIGMA_ACCOUNT, CLOUDSIGMA_TEST } from '../../support/clouds/index.js';
import type { CloudDescriptor, FakeCloudInstance, FakeTiming, FaultRequest, NormalizedVm } from './types.js';

// The account, markers and fault routes of the one CloudSigma test descriptor (test/support/clouds/cloudsigma.ts).
const { email: USER, password: PASSWORD } = CLOUDSIGMA_ACCOUNT.alice;
const LIBRARY_DRIVE = CLOUDSIGMA_ACCOUNT.libraryDrive;

// Same keys as src/providers/cloudsigma/markers.ts (server meta).
const { machine: MACHINE_KEY, machineClass: CLASS_KEY, cluster: CLUSTER_KEY } = CLOUDSIGMA_TEST.markers;
const USER_DATA_KEY = 'cloudinit-user-data'; // base64 (listed in base64_fields)

const API = '/api/2.0';
const { create, list, get, delete: del, any } = CLOUDSIGMA_TEST.routes;
const FAULT_ROUTES: Record<FaultRequest['op'], { method?: string; path: RegExp }> = { create, list, get, delete: del, any };

export const cloudsigma: CloudDescriptor = {
  id: 'cloudsigma',
  provider: CLOUDSIGMA_TEST.provider,
  specFile: CLOUDSIGMA_TEST.specFile,

  sidecarEnv: (apiUrl) => ({ CLOUDSIGMA_API_ENDPOINT: `${apiUrl}${API}/` }),

  secretData: () => ({
    location: 'zrh',
    username: USER,
    password: PASSWORD,
    userData: '#cloud-config\nruncmd:\n  - echo "joining as <<MACHINE_NAME>> with <<BOOTSTRAP_TOKEN>>"\n',
  }),

  providerSpec: (variant) => ({
    cpu: variant === 'v1' ? 2000 : 4000,
    memory: variant === 'v1' ? '2Gi' : '4Gi',
    bootDrive: { source: { libraryDrive: LIBRARY_DRIVE } },
    nics: [{ ipv4: { conf: 'dhcp' } }],
  }),

  async fake(timing: FakeTiming, port: number): Promise<FakeCloudInstance> {
    const { startCloudSigmaFake } = await import('../../fakes/cloudsigma/index.js');
    const fake = await startCloudSigmaFake({
      port,
      cloneAfterMs: Math.round(timing.activeAfterMs / 2),
      runningAfterMs: timing.activeAfterMs,
      stoppedAfterMs: timing.deleteAfterMs,
    });
    const normalize = (s: { uuid: string; name: string; status: string; meta: Record<string, string> }): NormalizedVm => ({
      id: s.uuid,
      providerId: `cloudsigma://${s.uuid}`,
      name: s.name,
      status: s.status,
      // The driver stops a server, then deletes it.
      deleting: s.status === 'stopping',
      machine: s.meta[MACHINE_KEY],
      machineClass: s.meta[CLASS_KEY],
      cluster: s.meta[CLUSTER_KEY],
      userData: s.meta[USER_DATA_KEY] === undefined ? undefined : Buffer.from(s.meta[USER_DATA_KEY], 'base64').toString('utf8'),
    });
    return {
      url: fake.url,
      vms: () => fake.servers().map(normalize),
      seed: (req) =>
        normalize(
          fake.seedServer({
            owner: USER,
            name: req.name,
            status: 'running',
            meta: req.markers
              ? { [MACHINE_KEY]: req.markers.machine, [CLASS_KEY]: req.markers.machineClass, [CLUSTER_KEY]: req.markers.cluster }
              : { purpose: 'hand-made' },
          }),
        ),
      async remove(id) {
        if (!fake.servers().some((s) => s.uuid === id)) return;
        fake.setServerStatus(id, 'stopped');
        const res = await fetch(`${fake.apiUrl.replace(/\/$/, '')}/servers/${id}/`, {
          method: 'DELETE',
          headers: { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` },
        });
        if (res.status !== 204 && res.status !== 404) throw new Error(`fake DELETE ${id}: ${res.status} ${await res.text()}`);
      },
      injectFault: (f) => fake.injectFault({ ...FAULT_ROUTES[f.op], status: f.status, times: f.times, delayMs: f.delayMs, afterSuccess: f.afterSuccess, headers: f.headers }),
      clearFaults: () => fake.clearFaults(),
      setListingLag: (lag) => fake.setListingLag(lag),
      createdMachines: () =>
        fake.requests
          .filter((r) => r.method === 'POST' && FAULT_ROUTES.create.path.test(r.path))
          .flatMap((r) => {
            const body = r.body as { objects?: Array<{ name?: string; meta?: Record<string, string> }> } | undefined;
            return (body?.objects ?? []).map((o) => o.meta?.[MACHINE_KEY] ?? o.name ?? '');
          }),
      close: () => fake.close(),
    };
  },
};
