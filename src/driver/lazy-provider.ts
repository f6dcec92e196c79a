import type { CloudProvider, CloudSession, MachineClassRef, SecretData, SessionPurpose } from './provider.js';
import { SessionCache } from './session-cache.js';

/** How a cloud is registered without loading it: its name, how to load its adapter, and what can be had without it. */
export interface ProviderEntry {
  /** The MachineClass `provider` value, as the adapter's own `name`. */
  name: string;
  /** Imports the adapter's module (its code, schemas, compiled validators) and builds it. */
  load: () => Promise<CloudProvider>;
  /** The adapter's JSON Schemas without loading its code (for `mcm-driver schema` / `validate`). */
  schemas?: () => { providerSpec: object; secret: object };
  /** Sessions of this cloud hold no per-call state, so one may serve every call with the same class and Secret (session-cache.ts). */
  reuseSessions?: boolean;
}

/**
 * A cloud whose adapter is imported when a class of that cloud first arrives
 * (or a PV is to be matched, see ProviderRegistry.loadAll), so a sidecar that
 * serves one cloud never pays for the others' code and schemas.
 */
export class LazyProvider implements CloudProvider {
  readonly name: string;
  private loading: Promise<CloudProvider> | undefined;
  private provider: CloudProvider | undefined;
  private readonly sessions: SessionCache | undefined;
  private ownSchemas: { providerSpec: object; secret: object } | undefined;

  constructor(private readonly entry: ProviderEntry) {
    this.name = entry.name;
    this.sessions = entry.reuseSessions ? new SessionCache() : undefined;
  }

  get loaded(): boolean {
    return this.provider !== undefined;
  }

  get schemas(): { providerSpec: object; secret: object } | undefined {
    if (this.provider) return this.provider.schemas;
    return (this.ownSchemas ??= this.entry.schemas?.());
  }

  load(): Promise<CloudProvider> {
    return (this.loading ??= this.entry.load().then(
      (p) => (this.provider = p),
      (err: unknown) => {
        this.loading = undefined; // a failed import is tried again by the next call
        throw err;
      },
    ));
  }

  async open(machineClass: MachineClassRef, secret: SecretData, purpose: SessionPurpose): Promise<CloudSession> {
    const provider = this.provider ?? (await this.load());
    return this.sessions ? this.sessions.open(provider, machineClass, secret, purpose) : provider.open(machineClass, secret, purpose);
  }

  /** Synchronous by the interface: the adapter must be loaded first (ProviderRegistry.loadAll; DriverService does so before GetVolumeIDs). */
  volumeId(pvSpec: Record<string, unknown>): string | undefined {
    if (!this.provider) throw new Error(`the ${this.name} adapter is not loaded yet: call ProviderRegistry.loadAll() before matching PVs`);
    return this.provider.volumeId(pvSpec);
  }
}
