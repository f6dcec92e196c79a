// In-memory VMs, pending entries and scripts. Phases are derived from timestamps whenever they
// are read, so the fake needs no timers (nothing keeps running after close()).
// A stored VM is an immutable (frozen) record that a write replaces (copy-on-write), and its
// phase view is cached until the phase or the record changes: a GET /vm page walks every VM
// several times (listing.ts, routes.ts), and deep-copying each one on every request made a
// 50,000-VM listing cost ~100 s of fake CPU. Only the public snapshots (VpsieFake.vms(), seedVm)
// are deep copies, so a test that mutates what it got cannot reach into the store.
import { randomBytes, randomUUID } from 'node:crypto';
import type { FakeScript, FakeVm } from './types.js';

export interface StoreTiming {
  pendingAfterMs: number;
  visibleAfterMs: number;
  runningAfterMs: number;
  deleteAfterMs: number;
  scriptVisibleAfterMs: number;
  now?: () => number;
}

type StoredVm = Omit<FakeVm, 'phase'>;

interface VmRecord {
  /** Frozen, with its tags and flags; patch() replaces it. */
  vm: Readonly<StoredVm>;
  pendingAtMs: number;
  listedAtMs: number;
  runningAtMs: number;
  deleteRequestedAtMs?: number;
  /** The last view handed out (frozen): valid while its phase is the current one and `vm` is the record's. */
  cached?: { vm: Readonly<StoredVm>; view: FakeVm };
}

export interface CreateInput {
  hostname: string;
  projectId: string | number;
  dcIdentifier: string;
  resourceIdentifier: string;
  osIdentifier: string;
  notes?: string;
  tags?: string[];
  sshKeyIdentifier?: string;
  scriptIdentifier?: string;
  userData?: string;
  ssd?: number;
  flags: Record<string, string>;
}

export class VpsieStore {
  private readonly records = new Map<string, VmRecord>();
  /** Identifiers of the records with a delete requested: all that sweep() has to look at. */
  private readonly deleteRequested = new Set<string>();
  private readonly seededPending: Array<{ id: string; hostname: string; projectId: string | number; tags: unknown[] }> = [];
  private readonly scriptMap = new Map<string, FakeScript>();
  private readonly now: () => number;
  private nextId = 1000;
  private ipCounter = 0;
  listTotalExtra = 0;
  /** Applied to notes as they are stored (VpsieFakeOptions.transformNotes). */
  transformNotes: (notes: string) => string = (n) => n;

  constructor(private readonly timing: StoreTiming) {
    this.now = timing.now ?? Date.now;
  }

  create(input: CreateInput): FakeVm {
    const nowMs = this.now();
    const listedAtMs = nowMs + this.timing.visibleAfterMs;
    const record: VmRecord = {
      vm: frozen(this.stored(input, nowMs, input.flags['addPublicIpV4'] !== '0')),
      pendingAtMs: nowMs + Math.min(this.timing.pendingAfterMs, this.timing.visibleAfterMs),
      listedAtMs,
      runningAtMs: listedAtMs + this.timing.runningAfterMs,
    };
    this.records.set(record.vm.identifier, record);
    return this.view(record, nowMs);
  }

  seed(input: Partial<FakeVm> & { hostname: string; projectId: string | number }): FakeVm {
    const nowMs = this.now();
    const { phase: _p, ...rest } = input;
    const vm = frozen({
      ...this.stored(
        { dcIdentifier: 'dc-fake', resourceIdentifier: 'plan-fake', osIdentifier: 'os-fake', flags: {}, ...rest, tags: rest.tags ?? [] },
        nowMs,
        true,
      ),
      ...rest,
      tags: [...(rest.tags ?? [])],
      flags: { ...(rest.flags ?? {}) },
    });
    const record: VmRecord = { vm, pendingAtMs: nowMs - 2, listedAtMs: nowMs - 1, runningAtMs: nowMs - 1 };
    this.records.set(vm.identifier, record);
    return structuredClone(this.view(record, nowMs));
  }

  seedPending(p: { hostname: string; projectId: string | number; tags?: unknown[] }): void {
    this.seededPending.push({ id: randomBytes(12).toString('hex'), hostname: p.hostname, projectId: p.projectId, tags: p.tags ?? [] });
  }

  /** Listed VMs of a project (all projects when projectId is undefined). */
  list(projectId: string | undefined): readonly FakeVm[] {
    const nowMs = this.sweep();
    const out: FakeVm[] = [];
    for (const r of this.records.values()) {
      const v = this.view(r, nowMs);
      if (v.phase !== 'invisible' && v.phase !== 'pending' && (projectId === undefined || String(v.projectId) === projectId)) out.push(v);
    }
    return out;
  }

  pending(): Array<{ id: string; hostname: string; projectId: string | number; tags: unknown[]; processId: string }> {
    const nowMs = this.sweep();
    const fromCreates: Array<{ id: string; hostname: string; projectId: string | number; tags: unknown[]; processId: string }> = [];
    for (const r of this.records.values()) {
      const v = this.view(r, nowMs);
      if (v.phase === 'pending') fromCreates.push({ id: v.pendingId, hostname: v.hostname, projectId: v.projectId, tags: v.tags, processId: v.pendingId });
    }
    return [...fromCreates, ...this.seededPending.map((p) => ({ ...p, processId: p.id }))];
  }

  /** A listed VM (pending or invisible ones are unknown to GET by id, like before they exist). */
  find(identifier: string): FakeVm | undefined {
    const nowMs = this.sweep();
    const record = this.records.get(identifier);
    if (!record) return undefined;
    const v = this.view(record, nowMs);
    return v.phase === 'invisible' || v.phase === 'pending' ? undefined : v;
  }

  /** The VMs being deleted, as they look now (a VM whose deletion completed is not among them: the store forgot it). */
  deleting(): FakeVm[] {
    const nowMs = this.sweep();
    return [...this.deleteRequested].map((id) => this.view(this.records.get(id)!, nowMs));
  }

  /** true if the hostname is taken by a listed or pending VM. */
  hostnameTaken(hostname: string): boolean {
    return this.list(undefined).some((v) => v.hostname === hostname) || this.pending().some((p) => p.hostname === hostname);
  }

  requestDelete(identifier: string): boolean {
    if (!this.find(identifier)) return false;
    this.records.get(identifier)!.deleteRequestedAtMs ??= this.now();
    this.deleteRequested.add(identifier);
    return true;
  }

  patch(identifier: string, patch: Partial<StoredVm>): void {
    const record = this.records.get(identifier);
    if (!record) throw new Error(`VpsieFake.patchVm: no VM ${identifier}`);
    const next = { ...record.vm, ...patch };
    record.vm = frozen({ ...next, tags: [...next.tags], flags: { ...next.flags } });
  }

  /** Deep copies of every VM in every phase (VpsieFake.vms()): the caller may change them. */
  all(): FakeVm[] {
    const nowMs = this.sweep();
    return [...this.records.values()].map((r) => structuredClone(this.view(r, nowMs)));
  }

  // ---- scripts ----

  addScript(name: string, script: string, scriptType: string, tags: string[]): FakeScript {
    const nowMs = this.now();
    const s: FakeScript = {
      identifier: randomUUID(),
      script_name: `${name}.sh`,
      script,
      scriptType,
      tags,
      created_on: sqlTime(nowMs),
      visibleAtMs: nowMs + this.timing.scriptVisibleAfterMs,
    };
    this.scriptMap.set(s.identifier, s);
    return { ...s };
  }

  seedScript(name: string, script: string, tags: string[]): FakeScript {
    const s = this.addScript(name, script, 'bash', tags);
    this.scriptMap.get(s.identifier)!.visibleAtMs = this.now() - 1;
    return { ...this.scriptMap.get(s.identifier)! };
  }

  listScripts(): FakeScript[] {
    const nowMs = this.now();
    return [...this.scriptMap.values()].filter((s) => s.visibleAtMs <= nowMs).map((s) => ({ ...s }));
  }

  findScript(identifier: string): FakeScript | undefined {
    return this.listScripts().find((s) => s.identifier === identifier);
  }

  deleteScript(identifier: string): boolean {
    if (!this.findScript(identifier)) return false;
    return this.scriptMap.delete(identifier);
  }

  scripts(): FakeScript[] {
    return [...this.scriptMap.values()].map((s) => ({ ...s }));
  }

  reset(): void {
    this.records.clear();
    this.deleteRequested.clear();
    this.seededPending.length = 0;
    this.scriptMap.clear();
    this.listTotalExtra = 0;
  }

  // ---- internals ----

  private stored(input: CreateInput, nowMs: number, publicV4: boolean): StoredVm {
    const n = this.ipCounter++;
    return {
      id: this.nextId++,
      identifier: randomUUID(),
      hostname: input.hostname,
      projectId: input.projectId,
      dcIdentifier: input.dcIdentifier,
      resourceIdentifier: input.resourceIdentifier,
      osIdentifier: input.osIdentifier,
      notes: input.notes === undefined ? undefined : this.transformNotes(input.notes),
      tags: [...(input.tags ?? [])],
      sshKeyIdentifier: input.sshKeyIdentifier,
      scriptIdentifier: input.scriptIdentifier,
      userData: input.userData,
      ssd: input.ssd,
      flags: { ...input.flags },
      private_ip: `10.${(n >> 8) & 255}.${n & 255}.10`,
      default_ip: publicV4 ? `203.0.${(n >> 8) & 255}.${(n % 250) + 2}` : undefined,
      default_ipv6: input.flags['addPublicIpV6'] === '1' ? `2001:db8::${(n + 1).toString(16)}` : undefined,
      is_suspended: 0,
      is_terminated: 0,
      is_deleted: 0,
      pendingId: randomBytes(12).toString('hex'),
      createdAtMs: nowMs,
    };
  }

  /** Forgets VMs whose deletion has completed. */
  private sweep(): number {
    const nowMs = this.now();
    for (const id of this.deleteRequested) {
      const r = this.records.get(id)!;
      if (nowMs - r.deleteRequestedAtMs! >= this.timing.deleteAfterMs) {
        this.records.delete(id);
        this.deleteRequested.delete(id);
      }
    }
    return nowMs;
  }

  /** The VM with its phase at nowMs: frozen and shared (the cached one while nothing changed), never to be mutated. */
  private view(r: VmRecord, nowMs: number): FakeVm {
    let phase: FakeVm['phase'];
    if (r.deleteRequestedAtMs !== undefined) phase = 'deleting';
    else if (nowMs >= r.runningAtMs) phase = 'running';
    else if (nowMs >= r.listedAtMs) phase = 'listed';
    else if (nowMs >= r.pendingAtMs) phase = 'pending';
    else phase = 'invisible';
    if (r.cached?.vm !== r.vm || r.cached.view.phase !== phase) r.cached = { vm: r.vm, view: Object.freeze({ ...r.vm, phase }) };
    return r.cached.view;
  }
}

/** The stored VM, its tags and flags frozen: a write replaces the record instead of changing it. */
function frozen(vm: StoredVm): Readonly<StoredVm> {
  Object.freeze(vm.tags);
  Object.freeze(vm.flags);
  return Object.freeze(vm);
}

/** VPSie's Go structs read created_on as a plain string; a SQL-style time is the guess. */
export function sqlTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, '');
}
