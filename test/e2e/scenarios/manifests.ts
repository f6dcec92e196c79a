// §3.5: the manifests in kind/ cannot rot. They are rendered (kubectl's
// built-in kustomize), checked against what this suite and MCM expect, and
// applied to the environment's apiserver with a server-side dry run (so the
// apiserver validates every object, CRD and RBAC rule).
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { kubectl } from '../controlplane/controlplane.js';
import { ALL_CLOUDS } from '../clouds/index.js';
import { ORPHAN_SWEEP_PERIOD, REPO_ROOT, STACKS } from '../lib/env.js';
import { ensureNamespace, type KubeObject } from '../lib/kube.js';
import { assert, type ScenarioContext } from './context.js';
import type { Scenario } from './machines.js';

const KIND = path.join(REPO_ROOT, 'kind');
const BRIDGE = 'machine-controller-manager-mcm-grpc-driver';
const SIDECAR = 'mcm-driver-sidecar';
const SOCKET_DIR = '/var/run/mcm-driver';

async function render(ctx: ScenarioContext, dir: string): Promise<{ text: string; docs: KubeObject[] }> {
  const text = await kubectl(ctx.env.kubeconfig, ['kustomize', path.join(KIND, dir)]);
  const docs = parseAllDocuments(text)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((d): d is KubeObject => !!d);
  return { text, docs };
}

function find(docs: KubeObject[], kind: string, name: string, namespace?: string): KubeObject {
  const d = docs.find((x) => x.kind === kind && x.metadata.name === name && (namespace === undefined || x.metadata.namespace === namespace));
  assert(d, `rendered manifests have ${kind} ${namespace ? `${namespace}/` : ''}${name}`);
  return d;
}

function container(deploy: KubeObject, name: string): { args?: string[]; env?: Array<{ name: string }>; volumeMounts?: Array<{ mountPath: string }> } | undefined {
  return deploy.spec?.template?.spec?.containers?.find((c: { name: string }) => c.name === name);
}

async function mcmCrdDir(): Promise<string> {
  const { stdout } = await promisify(execFile)('go', ['list', '-m', '-f', '{{.Dir}}', 'github.com/gardener/machine-controller-manager'], {
    cwd: path.join(REPO_ROOT, 'bridge'),
    env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=readonly' },
  });
  return path.join(stdout.trim(), 'kubernetes', 'crds');
}

export const manifests: Scenario = {
  id: 'kind-manifests',
  title: 'kind/ manifests: rendered, consistent with the suite, server-side dry run',
  timeoutMs: 5 * 60_000,
  async run(ctx) {
    // The CRDs are MCM's, verbatim, at the version the bridge is built with.
    await ctx.step('CRDs identical to the pinned MCM module', async () => {
      let upstream: string;
      try {
        upstream = await mcmCrdDir();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        ctx.note('no `go` on PATH: CRD comparison with the MCM module skipped');
        return;
      }
      const files = readdirSync(upstream).filter((f) => f.endsWith('.yaml'));
      assert(files.length === 4, `4 CRDs upstream in ${upstream}`);
      for (const f of files) {
        const ours = readFileSync(path.join(KIND, 'crds', f), 'utf8');
        assert(ours === readFileSync(path.join(upstream, f), 'utf8'), `kind/crds/${f} differs from ${upstream}/${f}: copy it again`);
      }
    });

    const base = await render(ctx, 'base');
    const e2e = await ctx.step('rendered kind/base and kind/overlays/e2e', () => render(ctx, 'overlays/e2e'));

    // What the suite relies on in the kind variant.
    const baseDeploy = find(base.docs, 'Deployment', 'machine-controller-manager');
    const baseArgs = container(baseDeploy, BRIDGE)?.args ?? [];
    assert(baseArgs.includes('--port=10259') && baseArgs.includes('--control-kubeconfig=inClusterConfig'), 'base bridge has Gardener provider-sidecar args');
    assert(!baseArgs.some((a) => a.startsWith('--driver-endpoint')), 'base bridge relies on the default --driver-endpoint socket');
    for (const c of [BRIDGE, SIDECAR]) {
      assert(container(baseDeploy, c)?.volumeMounts?.some((m) => m.mountPath === SOCKET_DIR), `${c} mounts ${SOCKET_DIR}`);
    }
    for (const stack of Object.values(STACKS)) {
      const d = find(e2e.docs, 'Deployment', 'machine-controller-manager', stack.namespace);
      find(e2e.docs, 'Namespace', stack.namespace);
      const bridgeArgs = container(d, BRIDGE)?.args ?? [];
      assert(bridgeArgs.includes(`--machine-safety-orphan-vms-period=${ORPHAN_SWEEP_PERIOD}`), `${stack.namespace}: bridge sweeps orphans every ${ORPHAN_SWEEP_PERIOD}`);
      assert(bridgeArgs.includes('--target-kubeconfig=none') === !stack.hasTarget, `${stack.namespace}: target kubeconfig ${stack.hasTarget ? 'set' : 'none'}`);
      assert(!!container(d, 'machine-controller-manager') === stack.hasTarget, `${stack.namespace}: MCM core ${stack.hasTarget ? 'present' : 'absent'}`);
      assert(d.spec.template.spec.shareProcessNamespace === true, `${stack.namespace}: shareProcessNamespace (the sidecar kill scenario)`);
      const env = (container(d, SIDECAR)?.env ?? []).map((e) => e.name);
      for (const cloud of ALL_CLOUDS) {
        for (const key of Object.keys(cloud.sidecarEnv('http://x'))) assert(env.includes(key), `${stack.namespace}: sidecar env ${key} (${cloud.id})`);
      }
    }
    const fakeDeploy = find(e2e.docs, 'Deployment', 'fake-cloud');
    for (const cloud of ALL_CLOUDS) {
      const args = container(fakeDeploy, 'fake-cloud')?.args ?? [];
      assert(args.some((a) => a.startsWith(`--cloud=${cloud.id}=`)), `fake-cloud serves ${cloud.id}`);
      if (cloud.specFile) assert(container(fakeDeploy, `prism-${cloud.id}`), `a Prism container for ${cloud.id}`);
    }

    // The apiserver's verdict. Namespaces are created for real first: a dry run cannot create what later objects live in.
    await ctx.step('server-side dry run accepted', async () => {
      for (const ns of e2e.docs.filter((d) => d.kind === 'Namespace')) await ensureNamespace(ctx.kube, ns.metadata.name);
      for (const [label, r] of [
        ['overlays-e2e', e2e],
        ['base', base],
      ] as const) {
        const file = path.join(ctx.env.runDir, `kind-${label}.rendered.yaml`);
        writeFileSync(file, r.text);
        const out = await kubectl(ctx.env.kubeconfig, [
          'apply',
          '--server-side',
          '--dry-run=server',
          '--force-conflicts',
          '--field-manager=mcm-e2e-dry-run',
          ...(label === 'base' ? ['-n', 'default'] : []),
          '-f',
          file,
        ]);
        const applied = out.split('\n').filter((l) => l.includes('(server dry run)')).length;
        assert(applied === r.docs.length, `${label}: ${applied} of ${r.docs.length} objects accepted:\n${out}`);
        ctx.note(`${label}: ${applied} objects accepted`);
      }
    });
  },
};
