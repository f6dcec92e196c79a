// In-memory servers and drives, each owned by a user. Transitions (cloning → unmounted,
// starting → running, stopping → stopped) complete when they are read after their time, so the
// fake needs no timers and nothing keeps running after close().
import { randomBytes, randomUUID } from 'node:crypto';
import { ListingLag, type ListingLagOptions } from '../core/index.js';
import type { FakeDrive, FakeServer, FakeServerDrive, FakeServerNic, SeedDrive, SeedServer } from './types.js';

export interface Timing {
  cloneAfterMs: number;
  runningAfterMs: number;
  stoppedAfterMs: number;
  /** A deleted server stays readable and listed this long, then answers 404. */
  deleteAfterMs: number;
  /** A deleted drive (or one deleted with its server, after the server is gone) stays this long. */
  driveDeleteAfterMs: number;
  /** Server listings lag creates and completed deletes (test/fakes/core/listing-lag.ts). */
  listingLag?: ListingLagOptions;
  now?: () => number;
}

/** Which requests find no capacity (answered 503), see routes.ts. */
export type CapacityGate = 'clone' | 'create' | 'start';

interface Pending {
  status: string;
  at: number;
}

type StoredServer = Omit<FakeServer, 'status'>;

interface ServerRecord {
  server: StoredServer;
  status: string;
  pending?: Pending;
  /** Addresses of public NICs, assigned when the server first runs. */
  ips: string[];
  /** Deletion started: gone at this time; `recurse` drives follow later. */
  goneAt?: number;
  recurseDrives?: string[];
}

interface DriveRecord {
  drive: Omit<FakeDrive, 'status' | 'mounted_on'>;
  status: string;
  pending?: Pending;
  /** Deletion started: gone at this time (or once its server is gone). */
  goneAt?: number;
}

export class Store {
  private readonly serverMap = new Map<string, ServerRecord>();
  private readonly driveMap = new Map<string, DriveRecord>();
  /** ACL grants (cloudsigma-docs acls.rst): object uuid → grantee user uuid → permissions. */
  private readonly grants = new Map<string, Map<string, Set<string>>>();
  private readonly now: () => number;
  private ipCounter = 0;
  readonly outOfCapacity = new Set<CapacityGate>();
  readonly listingLag: ListingLag<FakeServer>;

  private readonly initialTiming: Timing;

  constructor(private readonly timing: Timing) {
    this.initialTiming = { ...timing };
    this.now = timing.now ?? Date.now;
    this.listingLag = new ListingLag(timing.listingLag, this.now);
  }

  // ---- servers ----

  createServer(owner: string, s: Omit<StoredServer, 'uuid' | 'owner'>): FakeServer {
    const uuid = randomUUID();
    this.serverMap.set(uuid, { server: { ...s, uuid, owner }, status: 'stopped', ips: [] });
    this.listingLag.created(uuid);
    return this.serverView(uuid)!;
  }

  seedServer(ownerUuid: string, s: SeedServer): FakeServer {
    const uuid = s.uuid ?? randomUUID();
    const nics = (s.nics ?? [{ ip_v4_conf: { conf: 'dhcp' } }]).map((n) => ({ model: 'virtio', mac: randomMac(), ...n }));
    this.serverMap.set(uuid, {
      server: {
        uuid,
        owner: ownerUuid,
        name: s.name,
        cpu: s.cpu ?? 1000,
        mem: s.mem ?? 1024 ** 3,
        smp: 1,
        vnc_password: 'seeded-vnc',
        cpu_type: 'amd',
        cpu_model: null,
        hypervisor: 'kvm',
        cpus_instead_of_cores: false,
        enable_numa: false,
        hv_relaxed: false,
        hv_tsc: false,
        context: true,
        drives: s.drives ?? [],
        nics,
        meta: { ...(s.meta ?? {}) },
        tags: [],
        pubkeys: [],
      },
      status: s.status ?? 'running',
      ips: [],
    });
    return this.serverView(uuid)!;
  }

  server(uuid: string): FakeServer | undefined {
    this.sweep();
    return this.serverView(uuid);
  }

  // ---- asynchronous deletion (cloudsigma-docs servers.rst/drives.rst "204: No content, object deletion started";
  //      pycloudsigma src/testing/acceptance/test_servers.py waits for the server's and each drive's 404) ----

  /** Starts the deletion of a server; `recurse` drives go after it. A repeated call changes nothing. */
  startServerDeletion(uuid: string, recurseDrives: string[]): void {
    const r = this.serverMap.get(uuid);
    if (!r || r.goneAt !== undefined) return;
    r.goneAt = this.now() + this.timing.deleteAfterMs;
    r.recurseDrives = recurseDrives;
    this.sweep();
  }

  startDriveDeletion(uuid: string): void {
    const r = this.driveMap.get(uuid);
    if (!r || r.goneAt !== undefined) return;
    r.goneAt = this.now() + this.timing.driveDeleteAfterMs;
    this.sweep();
  }

  isBeingDeleted(uuid: string): boolean {
    return this.serverMap.get(uuid)?.goneAt !== undefined || this.driveMap.get(uuid)?.goneAt !== undefined;
  }

  /** Removes what finished deleting: servers first, then their recurse drives after driveDeleteAfterMs. */
  private sweep(): void {
    const now = this.now();
    for (const [uuid, r] of this.serverMap) {
      if (r.goneAt === undefined || now < r.goneAt) continue;
      this.listingLag.gone(uuid, this.serverView(uuid)!);
      this.serverMap.delete(uuid);
      this.grants.delete(uuid);
      for (const d of r.recurseDrives ?? []) {
        const dr = this.driveMap.get(d);
        if (dr && dr.goneAt === undefined) dr.goneAt = r.goneAt + this.timing.driveDeleteAfterMs;
      }
    }
    for (const [uuid, r] of this.driveMap) {
      if (r.goneAt !== undefined && now >= r.goneAt) {
        this.driveMap.delete(uuid);
        this.grants.delete(uuid);
      }
    }
  }

  // ---- ACL grants ----

  grant(objectUuid: string, grantee: string, permissions: string[]): void {
    const byUser = this.grants.get(objectUuid) ?? new Map<string, Set<string>>();
    byUser.set(grantee, new Set([...(byUser.get(grantee) ?? []), ...permissions]));
    this.grants.set(objectUuid, byUser);
  }

  /** The object's owner, or a grantee with this permission. */
  may(user: string, object: { uuid: string; owner: string | null }, permission: string): boolean {
    return object.owner === user || (this.grants.get(object.uuid)?.get(user)?.has(permission) ?? false);
  }

  /** Servers of one owner, in insertion order. */
  serversOf(owner: string): FakeServer[] {
    const out: FakeServer[] = [];
    for (const [uuid, r] of this.serverMap) if (r.server.owner === owner) out.push(this.serverView(uuid)!);
    return out;
  }

  /** One page of an owner's servers: filtered and ordered on the stored records, only the page is materialised. */
  /** A user's listing: its own servers and the ones shared with it with LIST (cloudsigma-docs acls.rst). */
  /** Listings lag creates and completed deletes as `listingLag` says; reads by uuid never lag. */
  pageOfServers(user: string, filter: { name?: string; uuid?: string[] }, orderBy: string | undefined, offset: number, limit: number): { total: number; page: FakeServer[] } {
    this.sweep();
    // Only the page is materialised: listing tests seed thousands of servers.
    type Listed = { server: { uuid: string; name: string; owner: string }; view: () => FakeServer };
    let listed: Listed[] = [...this.serverMap.values()]
      .filter((r) => this.listingLag.listed(r.server.uuid))
      .map((r) => ({ server: r.server, view: () => this.serverView(r.server.uuid)! }));
    listed.push(...this.listingLag.stillListed().map((ghost) => ({ server: ghost, view: () => ghost })));
    listed = listed.filter((l) => this.may(user, l.server, 'LIST'));
    if (filter.name !== undefined) listed = listed.filter((l) => l.server.name === filter.name);
    if (filter.uuid !== undefined) listed = listed.filter((l) => filter.uuid!.includes(l.server.uuid));
    sortBy(listed, orderBy, (l) => l.server);
    const slice = limit === 0 ? listed.slice(offset) : listed.slice(offset, offset + limit);
    return { total: listed.length, page: slice.map((l) => l.view()) };
  }

  pageOfDrives(user: string, filter: { name?: string; uuid?: string[] }, orderBy: string | undefined, offset: number, limit: number): { total: number; page: FakeDrive[] } {
    this.sweep();
    let records = [...this.driveMap.values()].filter((r) => r.drive.owner !== null && this.may(user, r.drive, 'LIST'));
    if (filter.name !== undefined) records = records.filter((r) => r.drive.name === filter.name);
    if (filter.uuid !== undefined) records = records.filter((r) => filter.uuid!.includes(r.drive.uuid));
    sortBy(records, orderBy, (r) => r.drive);
    const slice = limit === 0 ? records.slice(offset) : records.slice(offset, offset + limit);
    return { total: records.length, page: slice.map((r) => this.driveView(r.drive.uuid)!) };
  }

  allServers(): FakeServer[] {
    this.sweep();
    return [...this.serverMap.keys()].map((uuid) => this.serverView(uuid)!);
  }

  ipsOf(uuid: string): string[] {
    return this.serverMap.get(uuid)?.ips ?? [];
  }

  start(uuid: string): void {
    const r = this.serverMap.get(uuid)!;
    r.status = 'starting';
    r.pending = { status: 'running', at: this.now() + this.timing.runningAfterMs };
  }

  stop(uuid: string): void {
    const r = this.serverMap.get(uuid)!;
    r.status = 'stopping';
    r.pending = { status: 'stopped', at: this.now() + this.timing.stoppedAfterMs };
  }

  setServerStatus(uuid: string, status: string): void {
    const r = this.serverMap.get(uuid);
    if (!r) throw new Error(`CloudSigmaFake.setServerStatus: no server ${uuid}`);
    r.status = status;
    r.pending = undefined;
  }

  deleteServer(uuid: string): void {
    this.serverMap.delete(uuid);
  }

  // ---- drives ----

  createDrive(d: Omit<FakeDrive, 'uuid' | 'status' | 'mounted_on'>, cloning: boolean): FakeDrive {
    const uuid = randomUUID();
    this.driveMap.set(uuid, {
      drive: { ...d, uuid },
      status: cloning ? 'cloning_dst' : 'unmounted',
      pending: cloning ? { status: 'unmounted', at: this.now() + this.timing.cloneAfterMs } : undefined,
    });
    return this.driveView(uuid)!;
  }

  seedDrive(ownerUuid: string | null, d: SeedDrive): FakeDrive {
    const uuid = d.uuid ?? randomUUID();
    this.driveMap.set(uuid, {
      drive: { uuid, owner: ownerUuid, name: d.name, size: d.size ?? 10 * 1024 ** 3, media: d.media ?? 'disk', storage_type: d.storage_type ?? (ownerUuid ? 'dssd' : null), meta: {} },
      status: d.status ?? 'unmounted',
    });
    return this.driveView(uuid)!;
  }

  drive(uuid: string): FakeDrive | undefined {
    this.sweep();
    return this.driveView(uuid);
  }

  drivesOf(owner: string): FakeDrive[] {
    const out: FakeDrive[] = [];
    for (const [uuid, r] of this.driveMap) if (r.drive.owner === owner) out.push(this.driveView(uuid)!);
    return out;
  }

  allDrives(): FakeDrive[] {
    this.sweep();
    return [...this.driveMap.keys()].map((uuid) => this.driveView(uuid)!);
  }

  setDriveStatus(uuid: string, status: string): void {
    const r = this.driveMap.get(uuid);
    if (!r) throw new Error(`CloudSigmaFake.setDriveStatus: no drive ${uuid}`);
    r.status = status;
    r.pending = undefined;
  }

  deleteDrive(uuid: string): void {
    this.driveMap.delete(uuid);
  }

  /** Servers a drive is attached to. */
  mountedOn(driveUuid: string): string[] {
    const out: string[] = [];
    for (const [uuid, r] of this.serverMap) if (r.server.drives.some((d) => d.drive === driveUuid)) out.push(uuid);
    return out;
  }

  /** Changes how long the next clones, starts, stops and deletes take; reset() restores the start values. */
  setTiming(timing: Partial<Omit<Timing, 'now' | 'listingLag'>>): void {
    Object.assign(this.timing, timing);
  }

  reset(keepLibrary: boolean): void {
    Object.assign(this.timing, this.initialTiming);
    this.serverMap.clear();
    this.grants.clear();
    this.outOfCapacity.clear();
    this.listingLag.reset();
    for (const [uuid, r] of this.driveMap) if (!keepLibrary || r.drive.owner !== null) this.driveMap.delete(uuid);
  }

  // ---- views ----

  private serverView(uuid: string): FakeServer | undefined {
    const r = this.serverMap.get(uuid);
    if (!r) return undefined;
    settle(r, this.now());
    if (r.status === 'running' && r.ips.length === 0) {
      r.ips = r.server.nics.filter((n) => n.ip_v4_conf && !n.vlan).map(() => this.nextIp());
    }
    return structuredClone({ ...r.server, status: r.status });
  }

  private driveView(uuid: string): FakeDrive | undefined {
    const r = this.driveMap.get(uuid);
    if (!r) return undefined;
    settle(r, this.now());
    const mounted = this.mountedOn(uuid);
    const status = r.status === 'unmounted' && mounted.length > 0 ? 'mounted' : r.status;
    return structuredClone({ ...r.drive, status, mounted_on: mounted });
  }

  private nextIp(): string {
    const n = this.ipCounter++;
    return `185.${(n >> 16) & 255}.${(n >> 8) & 255}.${(n & 255) || 1}`;
  }
}

function sortBy<T>(records: T[], orderBy: string | undefined, of: (r: T) => { uuid: string; name: string }): void {
  if (!orderBy) return;
  const desc = orderBy.startsWith('-');
  const field = (desc ? orderBy.slice(1) : orderBy) as 'uuid' | 'name';
  records.sort((a, b) => {
    const x = of(a)[field];
    const y = of(b)[field];
    const c = x < y ? -1 : x > y ? 1 : 0;
    return desc ? -c : c;
  });
}

function settle(r: { status: string; pending?: Pending }, now: number): void {
  if (r.pending && now >= r.pending.at) {
    r.status = r.pending.status;
    r.pending = undefined;
  }
}

export function randomMac(): string {
  return ['22', ...[...randomBytes(5)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

export type { FakeServerDrive, FakeServerNic };
