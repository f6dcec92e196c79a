// The real-MCM end-to-end suite (issue 5 §3): MCM core + the Go bridge + the
// driver sidecar + stateful fake clouds behind Prism, on a real kube-apiserver.
//
//   npm run test:e2e                              local: processes on 127.0.0.1 (CI)
//   MCM_E2E_ENV=kind MCM_E2E_KUBECONFIG=… npm run test:e2e   against kind (just test-e2e)
//   MCM_E2E_CLOUDS=stackit npm run test:e2e       a subset of the clouds
//   MCM_E2E_SCENARIOS=no-target,orphans npm run test:e2e   a subset of the scenarios
//
// Every scenario runs for every cloud (clouds/index.ts); the manifests
// scenario runs once. Results: a table on stdout, test/e2e/.work/summary-<env>.md.
import { selectedClouds } from './clouds/index.js';
import { createEnvironment, STACKS, type Environment } from './lib/env.js';
import { KubeletSimulator } from './lib/kubelet.js';
import { Report } from './lib/report.js';
import { since } from './lib/wait.js';
import { ScenarioContext, progressLine } from './scenarios/context.js';
import { CLOUD_SCENARIOS, type Scenario } from './scenarios/machines.js';
import { manifests } from './scenarios/manifests.js';
import { providerContainer } from './scenarios/provider-container.js';
import { providerImageUnavailable } from './lib/docker.js';
import type { CloudDescriptor } from './clouds/types.js';

const clouds = selectedClouds();
const report = new Report();
let env: Environment | undefined;
let kubelet: KubeletSimulator | undefined;
let setupError: Error | undefined;

// A cold first build of kube-apiserver/etcd/MCM takes 10-25 min on 2 cores.
const SETUP_TIMEOUT_MS = 40 * 60_000;

beforeAll(async () => {
  const t0 = performance.now();
  try {
    env = await createEnvironment();
    progressLine(`environment ${env.name}, clouds ${clouds.map((c) => c.id).join(', ')}, logs ${env.runDir}`);
    await env.setup(clouds);
    kubelet = new KubeletSimulator(env.kube, STACKS.target.namespace, { heartbeats: env.nodeHeartbeats });
    kubelet.start();
    progressLine(`environment ready (${since(t0)} s)`);
  } catch (err) {
    setupError = err as Error;
    if (env) process.stderr.write(`${await env.diagnostics().catch(() => '')}\n`);
    throw err;
  }
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await kubelet?.stop();
  if (!env) return;
  try {
    const flags = await env.describe().catch(() => ({}));
    const md = report.write(env.name, env.runDir, flags);
    process.stdout.write(`\n${md}\n`);
  } finally {
    await env.teardown();
  }
}, 5 * 60_000);

/** Runs one scenario; records its result; on failure prints every component's log tail. Never throws. */
async function run(scenario: Scenario, cloud: CloudDescriptor | undefined): Promise<Error | undefined> {
  if (!env || setupError) return setupError ?? new Error('environment not set up');
  const ctx = new ScenarioContext(env, cloud, cloud ? env.fake(cloud.id) : undefined);
  const t0 = performance.now();
  const who = `${cloud?.id ?? '-'} ${scenario.id}`;
  progressLine(`${who}: ${scenario.title}`);
  try {
    await scenario.run(ctx);
    report.add({ cloud: cloud?.id ?? '-', scenario: scenario.id, title: scenario.title, ok: true, seconds: since(t0), steps: ctx.steps, notes: ctx.notes });
    progressLine(`${who}: PASS (${since(t0)} s)`);
    return undefined;
  } catch (err) {
    const error = (err as Error).message;
    report.add({ cloud: cloud?.id ?? '-', scenario: scenario.id, title: scenario.title, ok: false, seconds: since(t0), steps: ctx.steps, notes: ctx.notes, error });
    progressLine(`${who}: FAIL (${since(t0)} s): ${error}`);
    const sim = kubelet?.errors.length ? `\n--- kubelet simulator errors:\n${kubelet.errors.join('\n')}` : '';
    const diag = await env.diagnostics().catch((e: unknown) => `(no diagnostics: ${(e as Error).message})`);
    process.stderr.write(`===== ${who} FAILED: ${error}\n${diag}${sim}\n===== end of ${who}\n`);
    return err as Error;
  }
}

// Phase 1: every cloud's scenarios at once, each cloud's in order (one cloud
// never waits for another: MCM, the sidecar and the apiserver are shared, the
// object names, MachineClasses and fakes are not). MCM_E2E_SEQUENTIAL=1 runs
// the clouds one after the other instead.
// Phase 2: the exclusive scenarios (sidecar SIGKILL), one at a time, with
// nothing else in flight.
// MCM_E2E_SCENARIOS=no-target,orphans,... runs a subset (ids in scenarios/*.ts).
const only = process.env.MCM_E2E_SCENARIOS?.split(',').map((s) => s.trim()).filter(Boolean);
const wanted = (s: Scenario): boolean => !only || only.includes(s.id);
const ALL_SCENARIOS = [...CLOUD_SCENARIOS, providerContainer];
const concurrent = ALL_SCENARIOS.filter((s) => !s.exclusive && wanted(s));
const exclusive = ALL_SCENARIOS.filter((s) => s.exclusive && wanted(s));
const forCloud = (s: Scenario, cloud: CloudDescriptor): boolean => !s.clouds || s.clouds.includes(cloud.id);

// The provider-container scenario needs Docker and the `provider` image
// (.ci/run builds it). Without them it is skipped with the reason, except in
// CI (CI=true), where a missing image is a failure.
// In kind it is always skipped: it starts its container on the host network.
const providerContainerLocal = (process.env.MCM_E2E_ENV ?? 'local') === 'local';
const providerContainerWanted = exclusive.includes(providerContainer) && clouds.some((c) => forCloud(providerContainer, c));
const providerContainerBlocked = !providerContainerWanted
  ? undefined
  : providerContainerLocal
    ? providerImageUnavailable()
    : 'it runs only in the local environment (a container on the host network)';
const providerContainerFails = providerContainerLocal && process.env.CI === 'true';
if (providerContainerBlocked) {
  progressLine(`${providerContainer.id}: ${providerContainerFails ? 'FAILS in CI' : 'skipped'}: ${providerContainerBlocked}`);
}
const outcomes = new Map<string, Error | undefined>();
let phase1: Promise<void> | undefined;

function runPhase1(): Promise<void> {
  phase1 ??= (async () => {
    const runCloud = async (cloud: CloudDescriptor): Promise<void> => {
      for (const s of concurrent.filter((x) => forCloud(x, cloud))) outcomes.set(`${cloud.id}/${s.id}`, await run(s, cloud));
    };
    if (process.env.MCM_E2E_SEQUENTIAL === '1') for (const c of clouds) await runCloud(c);
    else await Promise.all(clouds.map(runCloud));
  })();
  return phase1;
}

const PHASE1_TIMEOUT_MS = concurrent.reduce((sum, s) => sum + s.timeoutMs, 0) * (process.env.MCM_E2E_SEQUENTIAL === '1' ? clouds.length : 1);

for (const cloud of clouds) {
  describe(cloud.id, () => {
    for (const scenario of concurrent) {
      if (!forCloud(scenario, cloud)) continue;
      test(
        scenario.title,
        async () => {
          await runPhase1();
          const err = outcomes.get(`${cloud.id}/${scenario.id}`);
          if (err) throw err;
        },
        PHASE1_TIMEOUT_MS,
      );
    }
    for (const scenario of exclusive) {
      if (!forCloud(scenario, cloud)) continue;
      if (scenario === providerContainer && providerContainerBlocked) {
        if (providerContainerFails) {
          test(scenario.title, () => {
            throw new Error(`CI=true and the provider image cannot run: ${providerContainerBlocked}`);
          });
        } else {
          test.skip(`${scenario.title} (skipped: ${providerContainerBlocked})`, () => undefined);
        }
        continue;
      }
      test(
        scenario.title,
        async () => {
          await runPhase1(); // normally done already: jest reaches this after phase-1 tests
          const err = await run(scenario, cloud);
          if (err) throw err;
        },
        PHASE1_TIMEOUT_MS + scenario.timeoutMs,
      );
    }
  });
}

if (wanted(manifests)) {
  test(manifests.title, async () => {
    const err = await run(manifests, undefined);
    if (err) throw err;
  }, manifests.timeoutMs);
}
