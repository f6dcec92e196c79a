// The clouds the e2e suite runs every scenario for.
//
// To add a cloud: write clouds/<id>.ts exporting a CloudDescriptor (copy
// stackit.ts: the fake from test/fakes/<id>, its OpenAPI spec for Prism, the
// Secret keys and the environment variable that points the sidecar at the
// fake, the markers its adapter writes on a VM), and add it to ALL_CLOUDS.
// The kind overlay needs the same: a Prism container for its spec in
// kind/overlays/fake-cloud and the sidecar's environment variable in
// kind/overlays/{target,notarget}.
import { cloudsigma } from './cloudsigma.js';
import { stackit } from './stackit.js';
import { vpsie } from './vpsie.js';
import type { CloudDescriptor } from './types.js';

export const ALL_CLOUDS: CloudDescriptor[] = [stackit, cloudsigma, vpsie];

/** MCM_E2E_CLOUDS=stackit,... selects a subset (default: all). */
export function selectedClouds(filter = process.env.MCM_E2E_CLOUDS): CloudDescriptor[] {
  if (!filter) return ALL_CLOUDS;
  const wanted = filter.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  const unknown = wanted.filter((w) => !ALL_CLOUDS.some((c) => c.id === w));
  if (unknown.length > 0) throw new Error(`MCM_E2E_CLOUDS: unknown cloud(s) ${unknown.join(', ')}; known: ${ALL_CLOUDS.map((c) => c.id).join(', ')}`);
  return ALL_CLOUDS.filter((c) => wanted.includes(c.id));
}

export function cloudById(id: string): CloudDescriptor {
  const c = ALL_CLOUDS.find((x) => x.id === id);
  if (!c) throw new Error(`unknown cloud ${id}`);
  return c;
}

export type { CloudDescriptor } from './types.js';
