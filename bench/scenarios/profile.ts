// A CPU profile of the sidecar (node --cpu-prof) under a GetMachineStatus workload, cut to the
// time the workload ran, so a missed target comes with where the time goes.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { monotonicUs, summariseProfile, type ProfileSummary } from '../lib/cpu-profile.js';
import type { FakeProcess } from '../lib/fake.js';
import { cpuSeconds } from '../lib/proc.js';
import { BUILD_DIR, ROOT, SidecarClient, startSidecar, TSC_MAIN_JS } from '../lib/sidecar.js';
import { CLASS_LABELS, MACHINE_LABEL, machineRequest, PROJECT_ID, providerIdOf, REGION } from '../lib/stackit.js';

export interface ProfileResult {
  calls: number;
  concurrency: number;
  /** The fake's latency during the profile. */
  latencyMs: number;
  /** Process CPU (all threads, kernel included) per call, from /proc. */
  cpuMsPerCall: number;
  summary: ProfileSummary;
  file: string;
}

export async function runProfile(fake: FakeProcess, o: { calls: number; concurrency: number; warmup: number }): Promise<ProfileResult> {
  await fake.reset();
  const ids = await fake.seed({ projectId: PROJECT_ID, region: REGION, count: o.concurrency, namePrefix: 'profiled-', labels: CLASS_LABELS, machineLabel: MACHINE_LABEL });
  const dir = join(BUILD_DIR, 'profiles', `latency-${fake.latencyMs}-concurrency-${o.concurrency}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // The tsc output, not the bundle: the profile attributes time by source file and package (lib/cpu-profile.ts), which
  // a bundle's chunks would hide; per-call CPU is the same code either way once loaded.
  const sidecar = await startSidecar({ env: { STACKIT_API_ENDPOINT: fake.url }, logName: 'profile', nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir], main: TSC_MAIN_JS });
  const client = new SidecarClient(sidecar.target);
  const requests = ids.map((id, i) => machineRequest(`profiled-${i}`, providerIdOf(id)));
  const drive = async (calls: number) => {
    let next = 0;
    await Promise.all(
      requests.map(async (_, w) => {
        while (next < calls) {
          next++;
          await client.call('GetMachineStatus', requests[w]!);
        }
      }),
    );
  };
  await drive(o.warmup); // outside the window
  const cpu0 = cpuSeconds(sidecar.pid);
  const fromUs = monotonicUs();
  await drive(o.calls);
  const toUs = monotonicUs();
  const cpuMsPerCall = ((cpuSeconds(sidecar.pid) - cpu0) * 1000) / o.calls;
  client.close();
  await sidecar.stop();
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error('the sidecar wrote no .cpuprofile');
  return {
    calls: o.calls,
    concurrency: o.concurrency,
    latencyMs: fake.latencyMs,
    cpuMsPerCall,
    summary: summariseProfile(join(dir, file), ROOT, { fromUs, toUs }),
    file: join(dir, file).replace(`${ROOT}/`, ''),
  };
}
