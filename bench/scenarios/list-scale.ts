// 3. ListMachines scale: N VMs of one class in the fake, a fresh sidecar process per size (so
// VmHWM is this size's peak), ListMachines through the sidecar and (STACKIT) the same list
// request made directly, alternating. Other clouds come from the e2e suite's descriptors
// (test/e2e/clouds) as soon as they are listed there; their fakes paginate as the real APIs do.
import { existsSync } from 'node:fs';
import { startFake, type FakeProcess } from '../lib/fake.js';
import { cpuSeconds, memory } from '../lib/proc.js';
import { ROOT, SidecarClient, startSidecar } from '../lib/sidecar.js';
import { CLASS_LABELS, CLASS_NAME, DirectStackit, listRequest, MACHINE_LABEL, NAMESPACE, PROJECT_ID, REGION } from '../lib/stackit.js';
import { linearFit, spread, type Spread } from '../lib/stats.js';

export interface ListSize {
  vms: number;
  sidecarMs: Spread;
  directMs?: Spread;
  /** Sidecar CPU per list call. */
  sidecarCpuMs: Spread;
  /** The fake's CPU per list call through the sidecar (building and serialising its answers). */
  fakeCpuMs: Spread;
  /** µs per VM through the sidecar, and the sidecar's own share (sidecar − direct). */
  usPerVm: number;
  /** Sidecar CPU µs per VM (its own work, whatever the fake and the machine do). */
  cpuUsPerVm: number;
  ownUsPerVm?: number;
  idleHwmMiB: number;
  hwmMiB: number;
  /** Through the Go bridge: median ms, or why it failed. */
  bridge?: { ms?: number; error?: string };
}

export interface ListCloudResult {
  cloud: string;
  pagination: string;
  sizes: ListSize[];
  /** Least squares of the sidecar's CPU time per list against N. */
  fit?: { slopeUsPerVm: number; interceptMs: number; r2: number };
  note?: string;
}

/** A MachineClass and its Secret for the Go bridge's ListMachines. */
export interface BridgeClass {
  provider: string;
  providerSpec: Record<string, unknown>;
  secret: Record<string, string>;
}

export interface ListScaleOptions {
  sizes: number[];
  /** Calls per size and path. */
  reps: (vms: number) => number;
  /** Optional: ListMachines through the Go bridge against this sidecar (the STACKIT class unless `cls` is given). */
  bridgeList?: (target: string, cls?: BridgeClass) => Promise<{ ms?: number; error?: string }>;
}

export async function runListScaleStackit(o: ListScaleOptions): Promise<ListCloudResult> {
  const sizes: ListSize[] = [];
  for (const vms of o.sizes) {
    const fake = await startFake(0);
    try {
      await fake.seed({ projectId: PROJECT_ID, region: REGION, count: vms, namePrefix: `${CLASS_NAME}-`, labels: CLASS_LABELS, machineLabel: MACHINE_LABEL });
      const direct = new DirectStackit(fake.url, 1);
      try {
        sizes.push(await measureSize(vms, o, { env: { STACKIT_API_ENDPOINT: fake.url }, request: listRequest(), direct: async () => (await direct.listMachines()).size, fake }));
      } finally {
        direct.close();
      }
    } finally {
      await fake.close();
    }
  }
  return { cloud: 'STACKIT', pagination: 'none: IaaS v2 answers a list in one response', sizes, fit: fit(sizes) };
}

/** How each adapter reads a listing (src/providers/<cloud>/), for the table heading. */
const PAGINATION: Record<string, string> = {
  CLOUDSIGMA: 'limit/offset pages of 500 ordered by uuid, the adapter\'s default: 2 requests at 1,000 VMs, 100 at 50,000',
  VPSIE: 'offset/limit pages of 1,000 (GET /vm?projectId=…), the adapter\'s PAGE_SIZE: 1 request at 1,000 VMs, 50 at 50,000',
};

export interface E2eCloud {
  id: string;
  provider: string;
  sidecarEnv(url: string): Record<string, string>;
  secretData(): Record<string, string>;
  providerSpec(variant: 'v1' | 'v2'): Record<string, unknown>;
}

/** The e2e suite's clouds other than STACKIT, if the suite lists any yet. */
export async function otherClouds(): Promise<{ clouds: E2eCloud[]; note?: string }> {
  const index = `${ROOT}/test/e2e/clouds/index.ts`;
  if (!existsSync(index)) return { clouds: [], note: 'test/e2e/clouds/index.ts does not exist' };
  try {
    const mod = (await import(new URL('../../test/e2e/clouds/index.js', import.meta.url).href)) as { ALL_CLOUDS: E2eCloud[] };
    // STACKIT is measured with the bench's own fake and direct client; one entry per other provider.
    const seen = new Set<string>(['STACKIT']);
    return { clouds: mod.ALL_CLOUDS.filter((c) => !seen.has(c.provider.toUpperCase()) && seen.add(c.provider.toUpperCase())) };
  } catch (err) {
    return { clouds: [], note: `test/e2e/clouds could not be loaded: ${(err as Error).message}` };
  }
}

export async function runListScaleE2eCloud(cloud: E2eCloud, o: ListScaleOptions): Promise<ListCloudResult> {
  const sizes: ListSize[] = [];
  const cls = { provider: cloud.provider, providerSpec: cloud.providerSpec('v1'), secret: cloud.secretData() };
  const request = {
    machineClass: Buffer.from(JSON.stringify({ metadata: { name: CLASS_NAME, namespace: NAMESPACE }, provider: cls.provider, providerSpec: cls.providerSpec })),
    secretData: Object.fromEntries(Object.entries(cls.secret).map(([k, v]) => [k, Buffer.from(v)])),
  };
  for (const vms of o.sizes) {
    const fake = await startFake(0, cloud.id);
    try {
      await fake.seedVms({ count: vms, namePrefix: `${CLASS_NAME}-`, machineClass: CLASS_NAME, cluster: NAMESPACE });
      sizes.push(await measureSize(vms, o, { env: cloud.sidecarEnv(fake.url), request, fake, cls }));
    } finally {
      await fake.close();
    }
  }
  return { cloud: cloud.provider, pagination: PAGINATION[cloud.provider.toUpperCase()] ?? 'as its adapter lists', sizes, fit: fit(sizes), note: 'No direct baseline: the bench has a direct client for STACKIT only.' };
}

async function measureSize(
  vms: number,
  o: ListScaleOptions,
  c: { env: Record<string, string>; request: object; direct?: () => Promise<number>; fake: FakeProcess; cls?: BridgeClass },
): Promise<ListSize> {
  const sidecar = await startSidecar({ env: c.env, logName: `list-${vms}` });
  const client = new SidecarClient(sidecar.target);
  const sidecarMs: number[] = [];
  const directMs: number[] = [];
  const cpuMs: number[] = [];
  const fakeCpuMs: number[] = [];
  let bridge: ListSize['bridge'];
  try {
    await new Promise((r) => setTimeout(r, 500));
    const idleHwmMiB = memory(sidecar.pid).hwmMiB;
    const reps = o.reps(vms);
    const viaDirect = async () => {
      if (!c.direct) return;
      const t0 = performance.now();
      const n = await c.direct();
      directMs.push(performance.now() - t0);
      if (n !== vms) throw new Error(`direct list: ${n} of ${vms} VMs`);
    };
    for (let i = 0; i < reps; i++) {
      // Direct first on even reps, after the sidecar on odd ones.
      if (i % 2 === 0) await viaDirect();
      const cpu0 = cpuSeconds(sidecar.pid);
      const fake0 = cpuSeconds(c.fake.pid);
      const t0 = performance.now();
      const res = await client.call<{ machineList: Record<string, string> }>('ListMachines', c.request);
      sidecarMs.push(performance.now() - t0);
      cpuMs.push((cpuSeconds(sidecar.pid) - cpu0) * 1000);
      fakeCpuMs.push((cpuSeconds(c.fake.pid) - fake0) * 1000);
      const n = Object.keys(res.machineList).length;
      if (n !== vms) throw new Error(`ListMachines: ${n} of ${vms} VMs`);
      if (i % 2 === 1) await viaDirect();
    }
    const hwmMiB = memory(sidecar.pid).hwmMiB;
    if (o.bridgeList) bridge = await o.bridgeList(sidecar.target, c.cls);
    const s = spread(sidecarMs);
    const d = directMs.length ? spread(directMs) : undefined;
    process.stdout.write(`  list ${vms} VMs: sidecar ${s.median.toFixed(0)} ms${d ? `, direct ${d.median.toFixed(0)} ms` : ''}, VmHWM ${hwmMiB.toFixed(0)} MiB${bridge ? `, bridge ${bridge.ms?.toFixed(0) ?? bridge.error}` : ''}\n`);
    return {
      vms,
      sidecarMs: s,
      directMs: d,
      sidecarCpuMs: spread(cpuMs),
      fakeCpuMs: spread(fakeCpuMs),
      usPerVm: (s.median * 1000) / vms,
      cpuUsPerVm: (spread(cpuMs).median * 1000) / vms,
      ownUsPerVm: d ? ((s.median - d.median) * 1000) / vms : undefined,
      idleHwmMiB,
      hwmMiB,
      bridge,
    };
  } finally {
    client.close();
    await sidecar.stop();
  }
}

function fit(sizes: ListSize[]): ListCloudResult['fit'] {
  if (sizes.length < 2) return undefined;
  const f = linearFit(
    sizes.map((s) => s.vms),
    sizes.map((s) => s.sidecarCpuMs.median),
  );
  return { slopeUsPerVm: f.slope * 1000, interceptMs: f.intercept, r2: f.r2 };
}
