import { LazyProvider, type ProviderEntry } from './lazy-provider.js';
import type { CloudProvider } from './provider.js';

/**
 * MachineClass `provider` → adapter, case-insensitive (`STACKIT`, `stackit`,
 * `Stackit` are one). An adapter is given built (a CloudProvider) or as a
 * ProviderEntry, loaded when a class of its cloud first arrives.
 */
export class ProviderRegistry {
  private readonly byName = new Map<string, CloudProvider>();

  constructor(providers: readonly (CloudProvider | ProviderEntry)[] = []) {
    for (const p of providers) this.register(p);
  }

  register(provider: CloudProvider | ProviderEntry): void {
    const p = 'load' in provider ? new LazyProvider(provider) : provider;
    this.byName.set(p.name.toLowerCase(), p);
    if (p instanceof LazyProvider) registries.add(new WeakRef(this));
  }

  find(name: string): CloudProvider | undefined {
    return this.byName.get(name.trim().toLowerCase());
  }

  all(): CloudProvider[] {
    return [...this.byName.values()];
  }

  names(): string[] {
    return this.all().map((p) => p.name);
  }

  /** Names of the clouds whose adapter is loaded (a built one always is). */
  loadedNames(): string[] {
    return this.all()
      .filter((p) => !(p instanceof LazyProvider) || p.loaded)
      .map((p) => p.name);
  }

  /** Loads every adapter not loaded yet; needed before a synchronous CloudProvider method (volumeId) of each is called. */
  async loadAll(): Promise<void> {
    await Promise.all(this.all().map((p) => (p instanceof LazyProvider ? p.load() : undefined)));
  }
}

const registries = new Set<WeakRef<ProviderRegistry>>();

/**
 * Loads the adapters of every registry built in this process. DriverService
 * awaits it before GetVolumeIDs, which asks every cloud synchronously whether
 * a PV is its own (MachineDriver.getVolumeIds) and has no class to say which.
 */
export async function loadAllProviders(): Promise<void> {
  const live: ProviderRegistry[] = [];
  for (const ref of registries) {
    const r = ref.deref();
    if (r) live.push(r);
    else registries.delete(ref);
  }
  await Promise.all(live.map((r) => r.loadAll()));
}
