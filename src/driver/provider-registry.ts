import type { CloudProvider } from './provider.js';

/** MachineClass `provider` → adapter, case-insensitive (`STACKIT`, `stackit`, `Stackit` are one). */
export class ProviderRegistry {
  private readonly byName = new Map<string, CloudProvider>();

  constructor(providers: readonly CloudProvider[] = []) {
    for (const p of providers) this.register(p);
  }

  register(provider: CloudProvider): void {
    this.byName.set(provider.name.toLowerCase(), provider);
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
}
