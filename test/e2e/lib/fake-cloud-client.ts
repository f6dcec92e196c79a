// The suite's side of the fake-cloud admin API (../fake-cloud/main.ts).
import type { FaultRequest, NormalizedVm, SeedRequest } from '../clouds/types.js';

export class FakeCloudClient {
  constructor(
    private readonly adminUrl: string,
    readonly cloudId: string,
  ) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.adminUrl}/clouds/${this.cloudId}${path}`, {
      method,
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`fake-cloud admin ${method} ${path}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  vms(): Promise<NormalizedVm[]> {
    return this.call('GET', '/vms');
  }

  /** VMs carrying this cluster's marker (the MachineClass namespace), optionally of some classes only. */
  async clusterVms(cluster: string, classes?: string[]): Promise<NormalizedVm[]> {
    return (await this.vms()).filter((v) => v.cluster === cluster && (!classes || classes.includes(v.machineClass ?? '')));
  }

  seed(req: SeedRequest): Promise<NormalizedVm> {
    return this.call('POST', '/vms', req);
  }

  remove(id: string): Promise<void> {
    return this.call('DELETE', `/vms/${encodeURIComponent(id)}`);
  }

  injectFault(f: FaultRequest): Promise<void> {
    return this.call('POST', '/faults', f);
  }

  clearFaults(): Promise<void> {
    return this.call('DELETE', '/faults');
  }

  /** Listings lag creates and completed deletes from now on ({} = none). */
  setListingLag(lag: { createMs?: number; deleteMs?: number }): Promise<void> {
    return this.call('POST', '/listing-lag', lag);
  }

  createdMachines(): Promise<string[]> {
    return this.call('GET', '/creates');
  }
}

export async function waitForAdmin(adminUrl: string, timeoutMs: number, alive: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = alive();
    if (dead) throw new Error(`fake-cloud: ${dead}`);
    try {
      const res = await fetch(`${adminUrl}/healthz`, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`fake-cloud admin ${adminUrl} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
