// The vendor only says "Filter resources by labels". This implements what STACKIT's own MCM
// driver sends (`k1=v1,k2=v2`, all must match) plus bare `key` meaning "key exists".

export interface LabelRequirement {
  key: string;
  /** Undefined means the key only has to exist. */
  value?: string;
}

export class LabelSelectorError extends Error {}

export function parseLabelSelector(selector: string): LabelRequirement[] {
  const requirements: LabelRequirement[] = [];
  for (const rawTerm of selector.split(',')) {
    const term = rawTerm.trim();
    if (term === '') continue;
    const eq = term.indexOf('=');
    const key = (eq === -1 ? term : term.slice(0, eq)).trim();
    if (key === '') throw new LabelSelectorError(`invalid label selector term "${term}"`);
    requirements.push(eq === -1 ? { key } : { key, value: term.slice(eq + 1).trim() });
  }
  return requirements;
}

export function matchesLabels(labels: Record<string, string>, requirements: LabelRequirement[]): boolean {
  return requirements.every(({ key, value }) =>
    Object.hasOwn(labels, key) && (value === undefined || labels[key] === value),
  );
}
