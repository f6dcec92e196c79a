// The node flags the sidecar is launched with in production, read from the Dockerfile (the one
// place they are set): the sidecar image's ENTRYPOINT and the provider image's
// MCM_DRIVER_SIDECAR_COMMAND. The bench starts its sidecars with the same flags, so what it
// measures is the process as it ships; BENCH_NODE_FLAGS overrides them for an A/B run
// (e.g. BENCH_NODE_FLAGS=none, or BENCH_NODE_FLAGS="--max-semi-space-size=4").
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** What both images launch: the esbuild bundle (`npm run build:bundle`, scripts/bundle.mjs), not tsc's dist/src. */
export const SHIPPED_MAIN = 'dist/bundle/main.js';
const MAIN = SHIPPED_MAIN;

export interface LaunchFlags {
  /** Node flags of the sidecar image's ENTRYPOINT (kind/base runs that image unchanged). */
  sidecarImage: string[];
  /** Node flags of the provider image's MCM_DRIVER_SIDECAR_COMMAND (the bridge's child). */
  providerImage: string[];
}

/** The node flags between the node binary and main.js in both launch forms of the Dockerfile. */
export function launchFlags(dockerfile: string): LaunchFlags {
  const entrypoint = /^ENTRYPOINT (\[.*"\/nodejs\/bin\/node".*\])$/m.exec(dockerfile);
  if (!entrypoint) throw new Error('Dockerfile: no ENTRYPOINT that runs /nodejs/bin/node');
  const argv = JSON.parse(entrypoint[1]!) as string[];
  const command = /^ENV MCM_DRIVER_SIDECAR_COMMAND="([^"]*)"$/m.exec(dockerfile);
  if (!command) throw new Error('Dockerfile: no ENV MCM_DRIVER_SIDECAR_COMMAND="..."');
  const between = (words: string[], what: string) => {
    const end = words.findIndex((w) => w.endsWith(MAIN));
    if (words[0] !== '/nodejs/bin/node' || end < 0) throw new Error(`Dockerfile: ${what} is not /nodejs/bin/node [flags] ...${MAIN}`);
    return words.slice(1, end);
  };
  // The bridge splits MCM_DRIVER_SIDECAR_COMMAND on white space (bridge/pkg/supervise/plan.go).
  return { sidecarImage: between(argv, 'the sidecar ENTRYPOINT'), providerImage: between(command[1]!.trim().split(/\s+/), 'MCM_DRIVER_SIDECAR_COMMAND') };
}

/** The flags the bench's sidecars get: production's, unless BENCH_NODE_FLAGS says otherwise. */
export function benchNodeFlags(root: string, env: NodeJS.ProcessEnv = process.env): { flags: string[]; source: string } {
  const override = env.BENCH_NODE_FLAGS;
  if (override !== undefined) {
    const flags = override.trim() === 'none' ? [] : override.trim().split(/\s+/).filter(Boolean);
    return { flags, source: 'BENCH_NODE_FLAGS (not the production flags)' };
  }
  const { sidecarImage, providerImage } = launchFlags(readFileSync(join(root, 'Dockerfile'), 'utf8'));
  if (sidecarImage.join(' ') !== providerImage.join(' ')) {
    throw new Error(`Dockerfile: the sidecar image runs node ${sidecarImage.join(' ')} but the provider image ${providerImage.join(' ')}; they must agree`);
  }
  return { flags: sidecarImage, source: 'Dockerfile (as launched in production)' };
}
