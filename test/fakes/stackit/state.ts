// In-memory servers and volumes. Status is derived from timestamps whenever it is read, so the
// fake needs no timers (nothing keeps running after close(), and tests never race a timer).
import { randomBytes, randomUUID } from 'node:crypto';
import { ListingLag, type ListingLagOptions } from '../core/index.js';
import { matchesLabels, type LabelRequirement } from './label-selector.js';
import type { FakeBootVolume, FakeNic, FakeServer, FakeVolume } from './types.js';
import type { CreateServerPayload } from './validate.js';

/** The stored part of a server; status, powerStatus, timestamps are computed by `view`. */
type StoredServer = Omit<FakeServer, 'status' | 'powerStatus' | 'errorMessage' | 'createdAt' | 'updatedAt' | 'launchedAt'>;

interface ServerRecord {
  server: StoredServer;
  createdAtMs: number;
  activeAtMs: number;
  pinned?: { status: string; errorMessage?: string; atMs: number };
  deleteRequestedAtMs?: number;
  /** Created while out of capacity: CREATING, then ERROR (never ACTIVE) once activeAtMs has passed. */
  noValidHost?: boolean;
}

/** OpenStack Nova's NoValidHost (nova/exception.py "No valid host was found. %(reason)s") with the scheduler's usual reason. */
export const NO_VALID_HOST = 'No valid host was found. There are not enough hosts available.';

export interface StoreTiming {
  activeAfterMs: number;
  deleteAfterMs: number;
  listingLag?: ListingLagOptions;
  now?: () => number;
}

const POWER_STATUS: Record<string, string> = {
  ACTIVE: 'RUNNING',
  INACTIVE: 'STOPPED',
  DEALLOCATED: 'STOPPED',
  ERROR: 'ERROR',
};

export class ServerStore {
  private readonly records = new Map<string, ServerRecord>();
  private readonly volumeMap = new Map<string, FakeVolume>();
  private readonly now: () => number;
  // Never reset, so addresses stay distinct for the fake's whole life.
  private ipCounter = 0;
  readonly listingLag: ListingLag<FakeServer>;
  /** Creates are accepted and end in ERROR NO_VALID_HOST (see StackitFake.setOutOfCapacity). */
  outOfCapacity = false;

  private readonly initialTiming: StoreTiming;

  constructor(private readonly timing: StoreTiming) {
    this.initialTiming = { ...timing };
    this.now = timing.now ?? Date.now;
    this.listingLag = new ListingLag(timing.listingLag, this.now);
  }

  create(projectId: string, region: string, payload: CreateServerPayload): FakeServer {
    const nowMs = this.now();
    const id = randomUUID();
    const availabilityZone = payload.availabilityZone ?? this.bootVolumeZone(payload) ?? `${region}-m`;
    const bootVolume = payload.bootVolume
      ? this.attachBootVolume(projectId, region, availabilityZone, id, payload.bootVolume, nowMs)
      : undefined;
    const server: StoredServer = {
      projectId,
      region,
      id,
      name: payload.name,
      machineType: payload.machineType,
      labels: { ...(payload.labels ?? {}) },
      metadata: payload.metadata,
      imageId: payload.imageId,
      availabilityZone,
      affinityGroup: payload.affinityGroup,
      keypairName: payload.keypairName,
      userData: payload.userData,
      securityGroups: payload.securityGroups,
      serviceAccountMails: payload.serviceAccountMails,
      agent: payload.agent,
      configDrive: payload.configDrive,
      networking: payload.networking,
      bootVolume,
      volumes: payload.volumes,
      nics: this.synthesizeNics(payload.networking),
    };
    const record: ServerRecord = { server, createdAtMs: nowMs, activeAtMs: nowMs + this.timing.activeAfterMs, noValidHost: this.outOfCapacity || undefined };
    this.records.set(id, record);
    this.listingLag.created(id);
    return this.view(record, nowMs);
  }

  seed(input: Partial<FakeServer> & { projectId: string; region: string; name: string }): FakeServer {
    const nowMs = this.now();
    const createdAtMs = input.createdAt ? Date.parse(input.createdAt) : nowMs - this.timing.activeAfterMs;
    const id = input.id ?? randomUUID();
    const availabilityZone = input.availabilityZone ?? `${input.region}-m`;
    const { status, powerStatus: _p, errorMessage, createdAt: _c, updatedAt: _u, launchedAt: _l, ...rest } = input;
    const networking = rest.networking ?? { networkId: randomUUID() };
    const server: StoredServer = {
      ...rest,
      id,
      machineType: rest.machineType ?? 't1.1',
      labels: { ...(rest.labels ?? {}) },
      availabilityZone,
      networking,
      bootVolume: rest.bootVolume
        ? this.attachBootVolume(input.projectId, input.region, availabilityZone, id, rest.bootVolume, createdAtMs)
        : undefined,
      nics: rest.nics ?? this.synthesizeNics(networking),
    };
    const record: ServerRecord = {
      server,
      createdAtMs,
      // Foreign VMs already exist: ACTIVE right away unless a status was asked for.
      activeAtMs: Math.min(createdAtMs + this.timing.activeAfterMs, nowMs),
      pinned: status ? { status, errorMessage, atMs: nowMs } : undefined,
    };
    this.records.set(id, record);
    return this.view(record, nowMs);
  }

  /**
   * Replaces a NIC's allowedAddresses (UpdateNic is a PATCH of the NIC: a given
   * field replaces the stored one). undefined when no server of that project
   * and region has a NIC with this ID in this network.
   */
  updateNicAllowedAddresses(projectId: string, region: string, networkId: string, nicId: string, allowedAddresses: string[]): FakeNic | undefined {
    this.sweep();
    for (const record of this.records.values()) {
      const { server } = record;
      if (server.projectId !== projectId || server.region !== region) continue;
      const nic = server.nics.find((n) => n.nicId === nicId && n.networkId === networkId);
      if (nic) {
        nic.allowedAddresses = [...allowedAddresses];
        return { ...nic };
      }
    }
    return undefined;
  }

  /** A server of that project and region that is not gone yet (DELETING ones included). */
  find(projectId: string, region: string, id: string): FakeServer | undefined {
    const nowMs = this.sweep();
    const record = this.records.get(id);
    if (!record || record.server.projectId !== projectId || record.server.region !== region) return undefined;
    return this.view(record, nowMs);
  }

  /** What a listing answers: lagging creates and deletes as `listingLag` says (reads by id never lag). */
  list(projectId: string, region: string, selector: LabelRequirement[]): FakeServer[] {
    const nowMs = this.sweep();
    const inScope = (s: { projectId: string; region: string; labels: Record<string, string> }) =>
      s.projectId === projectId && s.region === region && matchesLabels(s.labels, selector);
    const live = [...this.records.values()]
      .filter((r) => inScope(r.server) && this.listingLag.listed(r.server.id))
      .map((r) => this.view(r, nowMs));
    return [...live, ...this.listingLag.stillListed().filter(inScope)];
  }

  /** Every server of the project and region as it truly is: for the NIC endpoints, which are no listing. */
  inProject(projectId: string, region: string): FakeServer[] {
    const nowMs = this.sweep();
    return [...this.records.values()].filter((r) => r.server.projectId === projectId && r.server.region === region).map((r) => this.view(r, nowMs));
  }

  /** Starts deletion; a second call on a DELETING server changes nothing. False if unknown. */
  requestDelete(projectId: string, region: string, id: string): boolean {
    if (!this.find(projectId, region, id)) return false;
    const record = this.records.get(id)!;
    record.deleteRequestedAtMs ??= this.now();
    return true;
  }

  setStatus(id: string, status: string, errorMessage?: string): void {
    this.sweep();
    const record = this.records.get(id);
    if (!record) throw new Error(`StackitFake.setServerStatus: no server ${id}`);
    record.pinned = { status, errorMessage, atMs: this.now() };
  }

  servers(): FakeServer[] {
    const nowMs = this.sweep();
    return [...this.records.values()].map((r) => this.view(r, nowMs));
  }

  volumes(): FakeVolume[] {
    this.sweep();
    return [...this.volumeMap.values()].map((v) => ({ ...v }));
  }

  /** Changes how long the next creates take to become ACTIVE and deletes to complete; reset() restores the start values. */
  setTiming(timing: Partial<Pick<StoreTiming, 'activeAfterMs' | 'deleteAfterMs'>>): void {
    Object.assign(this.timing, timing);
  }

  reset(): void {
    Object.assign(this.timing, this.initialTiming);
    this.records.clear();
    this.volumeMap.clear();
    this.listingLag.reset();
    this.outOfCapacity = false;
  }

  /** Forgets servers whose deletion has completed and releases (or deletes) their boot volumes. */
  private sweep(): number {
    const nowMs = this.now();
    for (const [id, record] of this.records) {
      const deleteAt = record.deleteRequestedAtMs;
      if (deleteAt === undefined || nowMs - deleteAt < this.timing.deleteAfterMs) continue;
      this.records.delete(id);
      this.listingLag.gone(id, this.view(record, nowMs));
      const volumeId = record.server.bootVolume?.id;
      const volume = volumeId === undefined ? undefined : this.volumeMap.get(volumeId);
      if (!volume || volume.serverId !== id) continue;
      if (volume.deleteOnTermination) this.volumeMap.delete(volume.id);
      else delete volume.serverId;
    }
    return nowMs;
  }

  private view(record: ServerRecord, nowMs: number): FakeServer {
    const { server, createdAtMs, activeAtMs, pinned, deleteRequestedAtMs, noValidHost } = record;
    const reachedActive = nowMs >= activeAtMs;
    let status: string;
    let errorMessage = pinned?.errorMessage;
    if (deleteRequestedAtMs !== undefined) status = 'DELETING';
    else if (pinned) status = pinned.status;
    else if (noValidHost && reachedActive) {
      status = 'ERROR';
      errorMessage = NO_VALID_HOST;
    } else status = reachedActive ? 'ACTIVE' : 'CREATING';

    const changes = [createdAtMs, reachedActive ? activeAtMs : 0, pinned?.atMs ?? 0, deleteRequestedAtMs ?? 0];
    const launched = reachedActive && !noValidHost && !(pinned && pinned.atMs < activeAtMs);
    const powerStatus = status === 'DELETING' ? (launched ? 'RUNNING' : undefined) : POWER_STATUS[status];
    return structuredClone({
      ...server,
      status,
      powerStatus,
      errorMessage: deleteRequestedAtMs === undefined ? errorMessage : undefined,
      createdAt: iso(createdAtMs),
      updatedAt: iso(Math.max(...changes)),
      launchedAt: launched ? iso(activeAtMs) : undefined,
    });
  }

  private bootVolumeZone(payload: CreateServerPayload): string | undefined {
    const source = payload.bootVolume?.source;
    return source?.type === 'volume' ? this.volumeMap.get(source.id)?.availabilityZone : undefined;
  }

  private attachBootVolume(
    projectId: string,
    region: string,
    availabilityZone: string,
    serverId: string,
    requested: FakeBootVolume,
    nowMs: number,
  ): FakeBootVolume {
    const fromVolume = requested.source?.type === 'volume';
    // Booting from an existing volume uses that volume; anything else creates a new one.
    const id = requested.id ?? (fromVolume ? requested.source!.id : randomUUID());
    const deleteOnTermination = requested.deleteOnTermination ?? false;
    const existing = this.volumeMap.get(id);
    if (existing) {
      existing.serverId = serverId;
      existing.deleteOnTermination = deleteOnTermination;
    } else {
      this.volumeMap.set(id, {
        id,
        projectId,
        region,
        availabilityZone,
        size: requested.size,
        performanceClass: requested.performanceClass,
        source: requested.source,
        deleteOnTermination,
        serverId,
        createdAt: iso(nowMs),
      });
    }
    return { ...requested, id, deleteOnTermination };
  }

  private synthesizeNics(networking: CreateServerPayload['networking'] | undefined): FakeNic[] {
    if (!networking) return [];
    const nicIds = 'nicIds' in networking ? networking.nicIds : [randomUUID()];
    const networkId = 'networkId' in networking ? networking.networkId : undefined;
    return nicIds.map((nicId) => ({
      nicId,
      networkId: networkId ?? randomUUID(),
      networkName: 'fake-network',
      ipv4: this.nextIpv4(),
      mac: randomMac(),
      nicSecurity: true,
    }));
  }

  private nextIpv4(): string {
    // Host part 1..254, so no address ends in .0 or .255.
    const n = this.ipCounter++;
    const block = Math.floor(n / 254);
    return `10.${(block >> 8) & 255}.${block & 255}.${(n % 254) + 1}`;
  }
}

function iso(ms: number): string {
  // The vendor's examples use second precision (2017-07-21T17:32:28Z).
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function randomMac(): string {
  // fa:16:3e is the prefix OpenStack (underneath STACKIT) uses for its ports.
  return ['fa', '16', '3e', ...[...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
