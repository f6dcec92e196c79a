import type { ListedVm } from '../../src/driver/provider.js';

/** Every VM a session's list() hands out, its pages read in order as ListMachines reads them. */
export async function listed(pages: AsyncIterable<readonly ListedVm[]>): Promise<ListedVm[]> {
  const out: ListedVm[] = [];
  for await (const page of pages) out.push(...page);
  return out;
}
