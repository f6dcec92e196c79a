import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { benchNodeFlags, launchFlags, SHIPPED_MAIN } from '../../../bench/lib/node-flags.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

describe('the sidecar runs with the same node flags wherever it is launched, and the bench measures it so', () => {
  test('both images start node with a small young generation (README "Performance")', () => {
    const { sidecarImage, providerImage } = launchFlags(dockerfile);
    expect(sidecarImage).toContain('--max-semi-space-size=2');
    expect(sidecarImage).toContain('--heap-growing-percent=20');
    expect(providerImage).toEqual(sidecarImage);
  });

  test('both images launch the bundle that the build stage makes (npm run build:bundle into dist/bundle)', () => {
    expect(SHIPPED_MAIN).toBe('dist/bundle/main.js');
    expect(dockerfile).toMatch(/^ENTRYPOINT \["\/nodejs\/bin\/node", [^\]]*"dist\/bundle\/main\.js"\]$/m);
    expect(dockerfile).toMatch(/^ENV MCM_DRIVER_SIDECAR_COMMAND="\/nodejs\/bin\/node [^"]* \/app\/dist\/bundle\/main\.js serve /m);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts['build:bundle']).toBe('node scripts/bundle.mjs');
    // scripts/bundle.mjs writes dist/bundle unless given another folder (the bench's bench/.build/bundle).
    expect(readFileSync(join(ROOT, 'scripts/bundle.mjs'), 'utf8')).toContain("process.argv[2] ?? 'dist/bundle'");
    expect(dockerfile).toMatch(/^RUN npm run build && npm run build:bundle && npm prune --omit=dev/m);
    expect(dockerfile).toMatch(/^COPY scripts\/bundle\.mjs \.\/scripts\/bundle\.mjs$/m);
  });

  test('the bench starts its sidecars with the Dockerfile flags unless told otherwise for an A/B run', () => {
    expect(benchNodeFlags(ROOT, {}).flags).toEqual(launchFlags(dockerfile).sidecarImage);
    expect(benchNodeFlags(ROOT, { BENCH_NODE_FLAGS: 'none' }).flags).toEqual([]);
    expect(benchNodeFlags(ROOT, { BENCH_NODE_FLAGS: ' --max-semi-space-size=4  --foo ' }).flags).toEqual(['--max-semi-space-size=4', '--foo']);
  });

  test('a Dockerfile whose two launch forms disagree is refused, not measured as one of them', () => {
    const drifted = dockerfile.replace(/(ENV MCM_DRIVER_SIDECAR_COMMAND="\/nodejs\/bin\/node) [^ ]+/, '$1');
    expect(drifted).not.toBe(dockerfile);
    const dir = mkdtempSync(join(tmpdir(), 'launch-flags-'));
    writeFileSync(join(dir, 'Dockerfile'), drifted);
    expect(() => benchNodeFlags(dir, {})).toThrow(/must agree/);
  });

  test('no kind manifest replaces the sidecar image ENTRYPOINT (which carries the flags)', () => {
    const manifests: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (/\.ya?ml$/.test(name)) manifests.push(p);
      }
    };
    walk(join(ROOT, 'kind'));
    const sidecars = manifests.flatMap((file) =>
      YAML.parseAllDocuments(readFileSync(file, 'utf8'))
        .map((d) => d.toJS() as { spec?: { template?: { spec?: { containers?: Array<{ image?: string; command?: string[] }> } } } })
        .flatMap((doc) => doc?.spec?.template?.spec?.containers ?? [])
        .filter((c) => c.image === 'mcm-grpc-driver-sidecar')
        .map((c) => ({ file, command: c.command })),
    );
    expect(sidecars.length).toBeGreaterThan(0);
    for (const s of sidecars) expect(s).toEqual({ file: s.file, command: undefined });
  });
});
