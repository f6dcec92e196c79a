// Listings that lag the truth: a new VM stays out of list (and label-selector) answers for
// `createMs`, a VM whose deletion completed (GET answers 404) stays in them for `deleteMs`.
// Reads by id are not affected: both clouds answer a GET of the id a create returned.
//
// Sources: CloudSigma's own SDK polls its listings for up to 20 s after a create or delete before
// it calls the list wrong (pycloudsigma src/testing/acceptance/common.py `_verify_list`: TIMEOUT 20,
// WAIT_STEP 3, "Resource list didn't update as expected"). STACKIT's IaaS v2 spec promises nothing
// about listings after a write; its SDK's waiters (stackit-sdk-go services/iaas/wait) poll GET by
// id, never the listing. Eventually consistent listings made the AWS provider create duplicates
// (machine-controller-manager-provider-aws#54, PR #58). Issue 12 reproduced a duplicate STACKIT
// server with a label listing a few seconds late. Default 0: tests opt in.

export interface ListingLagOptions {
  /** A created VM is missing from listings for this long (ms). */
  createMs?: number;
  /** A VM whose deletion completed is still listed, as last seen, for this long (ms). */
  deleteMs?: number;
}

export class ListingLag<View> {
  private createMs = 0;
  private deleteMs = 0;
  /** id → when it was created (only VMs created through the API: seeded ones are listed at once). */
  private readonly born = new Map<string, number>();
  /** id → the VM as it was last seen before it disappeared, and when. */
  private readonly ghosts = new Map<string, { view: View; goneAtMs: number }>();

  constructor(private readonly initial: ListingLagOptions = {}, private readonly now: () => number = Date.now) {
    this.set(initial);
  }

  /** Changes the lag from now on (VMs already created or gone keep their timestamps). */
  set(options: ListingLagOptions): void {
    for (const [name, value] of Object.entries(options)) {
      if (value !== undefined && !(Number.isFinite(value) && value >= 0)) throw new Error(`ListingLag.${name} must be a number of ms >= 0`);
    }
    this.createMs = options.createMs ?? 0;
    this.deleteMs = options.deleteMs ?? 0;
  }

  get options(): Required<ListingLagOptions> {
    return { createMs: this.createMs, deleteMs: this.deleteMs };
  }

  created(id: string): void {
    this.born.set(id, this.now());
  }

  /** The VM is gone for reads by id; listings keep `lastView` for deleteMs. */
  gone(id: string, lastView: View): void {
    this.born.delete(id);
    if (this.deleteMs > 0) this.ghosts.set(id, { view: lastView, goneAtMs: this.now() });
  }

  /** Whether a live VM appears in listings yet. */
  listed(id: string): boolean {
    const bornAt = this.born.get(id);
    if (bornAt === undefined) return true;
    if (this.now() - bornAt >= this.createMs) {
      this.born.delete(id);
      return true;
    }
    return false;
  }

  /** Gone VMs listings still show. */
  stillListed(): View[] {
    const nowMs = this.now();
    const out: View[] = [];
    for (const [id, ghost] of this.ghosts) {
      if (nowMs - ghost.goneAtMs >= this.deleteMs) this.ghosts.delete(id);
      else out.push(structuredClone(ghost.view));
    }
    return out;
  }

  /** Forgets every VM and restores the lag the fake was started with. */
  reset(): void {
    this.born.clear();
    this.ghosts.clear();
    this.set(this.initial);
  }
}
