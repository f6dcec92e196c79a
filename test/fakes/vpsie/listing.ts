// VPSie's listings lagging its truth (test/fakes/core/listing-lag.ts), on top of VpsieStore's own
// phases. VPSie creates asynchronously and answers without an id [sdk: vpsieinc/govpsie server.go
// CreateServer returns only an error; terraform-provider-vpsie server_resource.go Create then polls
// ListServer every 5 s for the hostname]: a new VM is first in the pending view (GET /vm/pending,
// govpsie pending.go) and later in the VM list. With a create lag the VM stays in the pending view
// and out of GET /vm for `createMs` after the request, so a client that polls the list sees it late
// (the pending view still shows it: there is no moment it is in neither). A read by identifier is
// not delayed (nobody holds the identifier before the list shows it). With a delete lag a VM whose
// deletion completed (GET by id: not found) stays in GET /vm, locked, as last seen, for `deleteMs`.
// How long VPSie's real list lags is [unconfirmed]: the lag is a knob, default none.
import { ListingLag, type ListingLagOptions } from '../core/index.js';
import type { VpsieStore } from './state.js';
import type { FakeVm } from './types.js';

export interface PendingEntry {
  id: string;
  hostname: string;
  projectId: string | number;
  tags: unknown[];
  processId: string;
}

export class VpsieListing {
  readonly lag: ListingLag<FakeVm>;
  /** Identifier → the VM as last seen while it was being deleted (its ghost once it is gone). */
  private readonly deleting = new Map<string, FakeVm>();

  constructor(
    private readonly store: VpsieStore,
    initial: ListingLagOptions = {},
  ) {
    this.lag = new ListingLag(initial);
  }

  /** A VM the API just created: listings lag it from now on. */
  created(vm: FakeVm): void {
    this.lag.created(vm.identifier);
  }

  /** GET /vm: the store's listed VMs the lag lets through, then VMs gone but still listed. */
  list(projectId: string | undefined): FakeVm[] {
    this.notice();
    const live = this.store.list(projectId).filter((v) => this.lag.listed(v.identifier));
    const ghosts = this.lag.stillListed().filter((v) => projectId === undefined || String(v.projectId) === projectId);
    return [...live, ...ghosts];
  }

  /** GET /vm/pending: the store's pending entries, and VMs past the pending phase the list does not show yet. */
  pending(): PendingEntry[] {
    this.notice();
    const lagging = this.store
      .list(undefined)
      .filter((v) => v.phase !== 'deleting' && !this.lag.listed(v.identifier))
      .map((v) => ({ id: v.pendingId, hostname: v.hostname, projectId: v.projectId, tags: v.tags, processId: v.pendingId }));
    return [...this.store.pending(), ...lagging];
  }

  /**
   * Deletions that completed since the last look: the store forgets a VM once deleteAfterMs has
   * passed, on its next read. Called on every request, so a ghost's lag starts at most one request late.
   */
  notice(): void {
    // A deletion never reverts, so a VM this map holds is still known to the store exactly when it is still deleting:
    // only the VMs being deleted are looked at, not every VM (this runs on every request).
    const now = new Map(this.store.deleting().map((v) => [v.identifier, v]));
    for (const [id, last] of this.deleting) {
      if (now.has(id)) continue;
      this.deleting.delete(id);
      this.lag.gone(id, last);
    }
    for (const v of now.values()) this.deleting.set(v.identifier, v);
  }

  reset(): void {
    this.deleting.clear();
    this.lag.reset();
  }
}
