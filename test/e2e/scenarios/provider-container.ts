// Issue 11 item 5: the `provider` image as gardener-extension-provider-stackit's
// one provider container of the MCM Deployment. The container is started with
// exactly the arguments Gardener gives it and the environment and mounts the
// extension gives it, on the host network (no kind here: containers cannot run
// --privileged), against the local control plane and the STACKIT fake (via
// Prism). It must:
// - serve Gardener's liveness probe (GET :10259/healthz) and, inside, the sidecar;
// - turn a Machine of an extension-rendered class into a Running Machine with
//   exactly one VM, and delete both;
// - on SIGTERM (docker stop = the kubelet's stop) forward it to the sidecar,
//   which shuts down gracefully, and exit 0;
// - exit non-zero when the sidecar dies (the kubelet then restarts it).
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { docker, dockerOk, PROVIDER_IMAGE } from '../lib/docker.js';
import { ensureNamespace, paths } from '../lib/kube.js';
import { KubeletSimulator } from '../lib/kubelet.js';
import { waitUntil } from '../lib/wait.js';
import { assert, type ScenarioContext } from './context.js';
import type { Scenario } from './machines.js';

/** The control namespace of this container (= the cluster marker on its VMs). */
const NS = 'shoot--e2e--provider';
const CONTAINER = `mcm-e2e-provider-${process.pid}`;
/** MCM's provider metrics/healthz port, fixed by Gardener (--port=10259, the probe's port). */
const PROBE_URL = 'http://127.0.0.1:10259/healthz';
/** The sidecar's own endpoints, as the image's MCM_DRIVER_SIDECAR_COMMAND sets them (loopback only). */
const SIDECAR_READYZ = 'http://127.0.0.1:10260/readyz';
/** Where Gardener mounts the generic target kubeconfig (gardenerutils.VolumeMountPathGenericKubeconfig). */
const GENERIC_KUBECONFIG_DIR = '/var/run/secrets/gardener.cloud/shoot/generic-kubeconfig';
/** Where the kubelet mounts the pod's service account (what --control-kubeconfig=inClusterConfig reads). */
const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * The container's arguments, verbatim: machinecontrollermanager.ProviderSidecarContainer
 * (gardener/gardener pkg/component/nodemanagement/machinecontrollermanager/provider.go),
 * then the two the STACKIT extension changes (stackitcloud/gardener-extension-provider-stackit
 * pkg/webhook/controlplane/ensurer.go: EnsureStringWithPrefix replaces the creation timeout
 * in place and appends the resource-exhausted retry). No bridge flag: the image needs none.
 */
export function gardenerStackitArgs(namespace: string): string[] {
  return [
    '--control-kubeconfig=inClusterConfig',
    '--kube-api-qps=100',
    '--kube-api-burst=200',
    '--machine-creation-timeout=45m',
    '--machine-drain-timeout=2h',
    '--machine-health-timeout=10m',
    '--machine-safety-apiserver-statuscheck-timeout=30s',
    '--machine-safety-apiserver-statuscheck-period=1m',
    '--machine-safety-orphan-vms-period=30m',
    `--namespace=${namespace}`,
    '--port=10259',
    `--target-kubeconfig=${GENERIC_KUBECONFIG_DIR}/kubeconfig`,
    '--v=3',
    '--resource-exhausted-retry=30m',
  ];
}

/** The fixture of issue 11: the extension's chart rendered for a pool with every option set. */
const RENDERED_POOL = 'test/fixtures/gardener-stackit/pool-full.yaml';

/**
 * A MachineClass exactly as gardener-extension-provider-stackit renders it
 * (test/fixtures/gardener-stackit/, see the header there for the template and
 * commit it reproduces): allowedAddresses, labels {kubernetes.io/cluster},
 * keypairName, bootVolume, securityGroups. Only what must point at this
 * environment is replaced: names and namespace, the cluster label (= this
 * container's namespace), the fake's network and image IDs. The credentials
 * Secret carries a static token instead of the rendered service-account key,
 * because the e2e fake cloud serves no token endpoint.
 */
function extensionRenderedClass(ctx: ScenarioContext, className: string): { secrets: object[]; machineClass: object } {
  const { userData, ...credentials } = ctx.c.secretData(); // project-id + a static token
  const spec = ctx.c.providerSpec('v1') as { region: string; imageId: string; networking: { networkId: string } };
  const docs = readFileSync(path.resolve(RENDERED_POOL), 'utf8')
    .split(/^---$/m)
    .map((d) => parseYaml(d) as { kind?: string } | null);
  const rendered = docs.find((d) => d?.kind === 'MachineClass') as {
    metadata: { name: string; namespace: string; labels?: Record<string, string> };
    secretRef: { name: string; namespace: string };
    credentialsSecretRef: { name: string; namespace: string };
    providerSpec: { region: string; availabilityZone?: string; networking: { networkId: string }; bootVolume: { source: { id: string } }; labels: Record<string, string> };
  };
  const ps = rendered.providerSpec;
  ps.region = spec.region;
  ps.availabilityZone = `${spec.region}-1`;
  ps.networking.networkId = spec.networking.networkId;
  ps.bootVolume.source.id = spec.imageId;
  ps.labels['kubernetes.io/cluster'] = NS;
  rendered.metadata = { ...rendered.metadata, name: className, namespace: NS };
  rendered.secretRef = { name: className, namespace: NS };
  rendered.credentialsSecretRef = { name: 'cloudprovider', namespace: NS };
  return {
    secrets: [
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cloudprovider', namespace: NS }, type: 'Opaque', stringData: credentials },
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: className, namespace: NS }, type: 'Opaque', stringData: { userData } },
    ],
    machineClass: rendered,
  };
}

/** The environment the extension's container gets (ensurer.go), pointing at Prism. */
function extensionEnv(stackitApi: string): string[] {
  return [
    // What the extension sets from the CloudProfile's apiEndpoints.iaas; the driver reads it first.
    `STACKIT_IAAS_ENDPOINT=${stackitApi}`,
  ];
}

export const providerContainer: Scenario = {
  id: 'provider-container',
  title: 'one provider container (image target provider) with Gardener STACKIT args: probe, Machine Running, delete, SIGTERM, sidecar death',
  timeoutMs: 10 * 60_000,
  exclusive: true,
  clouds: ['stackit'],
  async run(ctx) {
    const env = ctx.env;
    if (!env.hostEndpoints) throw new Error(`the ${env.name} environment cannot run a host-network container`);
    const { apiserverUrl, cloudApiUrls } = env.hostEndpoints();
    const api = new URL(apiserverUrl);
    const dir = path.join(env.runDir, 'provider-container');
    const logFile = path.join(dir, 'container.log');
    const saveLogs = async (): Promise<string> => {
      const r = await docker(['logs', CONTAINER]).catch(() => undefined);
      const text = r ? r.stdout + r.stderr : '(no docker logs)';
      writeFileSync(logFile, text);
      return text;
    };
    const tail = (text: string): string => text.split('\n').slice(-25).join('\n');

    // ---- what the pod gets: a service account (inClusterConfig) and the generic kubeconfig
    await ensureNamespace(ctx.kube, NS);
    await ctx.kube.upsert(`/api/v1/namespaces/${NS}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'machine-controller-manager', namespace: NS } });
    await ctx.kube.upsert('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'mcm-e2e-provider-container' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ kind: 'ServiceAccount', name: 'machine-controller-manager', namespace: NS }],
    });
    const tokenRequest = await ctx.kube.request<{ status: { token: string } }>(
      'POST',
      `/api/v1/namespaces/${NS}/serviceaccounts/machine-controller-manager/token`,
      { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
    );
    const kubeconfig = readFileSync(env.kubeconfig, 'utf8');
    const caData = (parseYaml(kubeconfig) as { clusters: Array<{ cluster: { 'certificate-authority-data': string } }> }).clusters[0]!.cluster['certificate-authority-data'];
    const saDir = path.join(dir, 'serviceaccount');
    const kcDir = path.join(dir, 'generic-kubeconfig');
    for (const d of [saDir, kcDir]) mkdirSync(d, { recursive: true, mode: 0o755 });
    // Readable by the image's user (65532): these are throw-away test credentials.
    const put = (file: string, content: string | Buffer): void => {
      writeFileSync(file, content);
      chmodSync(file, 0o644);
    };
    put(path.join(saDir, 'token'), tokenRequest.status.token);
    put(path.join(saDir, 'ca.crt'), Buffer.from(caData, 'base64'));
    put(path.join(saDir, 'namespace'), NS);
    put(path.join(kcDir, 'kubeconfig'), kubeconfig);

    const args = gardenerStackitArgs(NS);
    const runArgs = [
      'run', '--detach', '--name', CONTAINER,
      '--network', 'host',
      '--security-opt', 'no-new-privileges', // allowPrivilegeEscalation: false
      // What the kubelet gives an in-cluster pod, here the loopback apiserver.
      '--env', `KUBERNETES_SERVICE_HOST=${api.hostname}`,
      '--env', `KUBERNETES_SERVICE_PORT=${api.port}`,
      ...extensionEnv(cloudApiUrls.stackit!).flatMap((e) => ['--env', e]),
      '--volume', `${saDir}:${SERVICE_ACCOUNT_DIR}:ro`,
      '--volume', `${kcDir}:${GENERIC_KUBECONFIG_DIR}:ro`,
      PROVIDER_IMAGE,
      ...args,
    ];
    ctx.note(`docker ${runArgs.join(' ')}`);

    const state = async (): Promise<{ running: boolean; exitCode: number }> => {
      const out = await dockerOk(['inspect', '--format', '{{.State.Running}} {{.State.ExitCode}}', CONTAINER]);
      const [running, code] = out.trim().split(' ');
      return { running: running === 'true', exitCode: Number(code) };
    };
    const probe = (what: string) =>
      waitUntil(
        what,
        async () => {
          const st = await state();
          if (!st.running) throw new Error(`container exited ${st.exitCode}:\n${tail(await saveLogs())}`);
          const [healthz, readyz] = await Promise.all(
            [PROBE_URL, SIDECAR_READYZ].map((u) => fetch(u, { signal: AbortSignal.timeout(5000) }).then((r) => r.status, (e: Error) => e.message)),
          );
          return { done: healthz === 200 && readyz === 200, state: `${PROBE_URL} ${healthz}, ${SIDECAR_READYZ} ${readyz}` };
        },
        { timeoutMs: 120_000, intervalMs: 500 },
      );
    const waitExit = async (what: string, timeoutMs: number): Promise<number> => {
      const r = await docker(['wait', CONTAINER], timeoutMs).catch((e: Error) => {
        throw new Error(`${what}: ${e.message}`);
      });
      return Number(r.stdout.trim());
    };

    await docker(['rm', '--force', CONTAINER]);
    const kubelet = new KubeletSimulator(ctx.kube, NS);
    try {
      await dockerOk(runArgs);
      await ctx.step('liveness probe :10259/healthz and sidecar /readyz answer 200', () => probe('provider container serving'));

      // ---- a Machine of the extension-rendered class
      const cls = ctx.name('gardener-class');
      const name = ctx.name('gardener-machine');
      await ctx.cleanup(NS, { machines: [name] });
      const rendered = extensionRenderedClass(ctx, cls);
      for (const s of rendered.secrets) await ctx.kube.upsert(paths.secrets(NS), s as never);
      await ctx.kube.upsert(paths.mcm(NS, 'machineclasses'), rendered.machineClass as never);
      kubelet.start();
      await ctx.createMachine(NS, name, cls);
      const { machine, vm } = await ctx.step('Machine Running (one container)', () => ctx.waitMachineWithVm(NS, name, 'Running'));
      assert(vm.cluster === NS && vm.machineClass === cls, `VM markers ${JSON.stringify(vm)}`);
      assert(machine.metadata.labels?.node === name, `node label ${machine.metadata.labels?.node}`);
      await ctx.step('delete: Machine, VM and Node gone', () => ctx.deleteMachineAndWait(NS, name, vm.providerId, name));
      ctx.assertNoDuplicates();

      // ---- SIGTERM (what the kubelet sends first): forwarded, graceful, exit 0
      await dockerOk(['kill', '--signal', 'SIGTERM', CONTAINER]);
      const termCode = await ctx.step('SIGTERM: container exits', () => waitExit('after SIGTERM', 60_000));
      const termLogs = await saveLogs();
      assert(termCode === 0, `exit code ${termCode} after SIGTERM, want 0:\n${tail(termLogs)}`);
      assert(termLogs.includes('"signal":"SIGTERM"') || termLogs.includes('signal received'), `the sidecar did not log the SIGTERM:\n${tail(termLogs)}`);
      assert(termLogs.includes('shutdown complete'), `the sidecar did not shut down gracefully:\n${tail(termLogs)}`);
      assert(termLogs.includes('forwarded SIGTERM to the driver sidecar, which shut down'), `the bridge did not report the forward:\n${tail(termLogs)}`);

      // ---- the sidecar dies on its own: the container must exit non-zero
      await dockerOk(['start', CONTAINER]);
      await ctx.step('restarted: probes answer 200 again', () => probe('provider container serving again'));
      const top = await dockerOk(['top', CONTAINER, '-eo', 'pid,args']);
      const sidecarRow = top.split('\n').find((l) => l.includes('main.js serve'));
      assert(sidecarRow, `no sidecar process in docker top:\n${top}`);
      const hostPid = Number(sidecarRow.trim().split(/\s+/)[0]);
      process.kill(hostPid, 'SIGKILL'); // the suite runs as root in CI; as another user this throws EPERM
      const deathCode = await ctx.step('sidecar SIGKILLed: container exits', () => waitExit('after the sidecar died', 30_000));
      const deathLogs = await saveLogs();
      assert(deathCode === 1, `exit code ${deathCode} after the sidecar died, want 1:\n${tail(deathLogs)}`);
      assert(deathLogs.includes('the driver sidecar exited on its own (killed by signal killed)'), `the bridge did not report the death:\n${tail(deathLogs)}`);
    } catch (err) {
      const logs = await saveLogs();
      throw new Error(`${(err as Error).message}\n--- provider container log (${logFile}):\n${tail(logs)}`);
    } finally {
      await kubelet.stop();
      await docker(['rm', '--force', CONTAINER]).catch(() => undefined);
    }
  },
};
