/**
 * Go's `omitempty` reads null, "", [] and {} as "not set"; the Gardener
 * extension's chart relies on it and renders every unset option as null
 * (gardener-extension-provider-stackit
 * charts/internal/machineclass-stackit/templates/machineclass.yaml:
 * `size: {{ $machineClass.rootDiskSize }}` with no rootDiskSize). The STACKIT
 * Go provider then sends nothing for them (machine-controller-manager-provider-stackit
 * pkg/provider/create.go, createServerRequest). This drops such values so the
 * payload carries only what was really set. Label and metadata values are
 * data, not options: an empty label value stays.
 */
export function dropUnset<T>(value: T): T {
  return strip(value, false) as T;
}

const DATA_MAPS = new Set(['labels', 'metadata']);

function strip(value: unknown, isDataMap: boolean): unknown {
  if (Array.isArray(value)) return value.map((v) => strip(v, false));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === null || v === undefined) continue;
    if (!isDataMap && isEmpty(v)) continue;
    const inner = strip(v, DATA_MAPS.has(k) && !isDataMap);
    if (!isDataMap && isEmpty(inner)) continue;
    out[k] = inner;
  }
  return out;
}

function isEmpty(v: unknown): boolean {
  if (v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === 'object' && v !== null && Object.keys(v).length === 0;
}
