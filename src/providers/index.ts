import { readFileSync } from 'node:fs';
import { ProviderRegistry } from '../driver/provider-registry.js';
import type { ProviderEntry } from '../driver/lazy-provider.js';
import type { RetryPolicy } from '../http/retry-policy.js';
import type { StackitProviderOptions } from './stackit/stackit-provider.js';

export interface ProvidersOptions {
  httpTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Largest cloud response body read; larger ones fail with ResourceExhausted. */
  maxResponseBytes?: number;
  stackit?: StackitProviderOptions;
}

/** A cloud's schema files, read without importing its adapter (the same files the adapter imports). */
function schemaFiles(folder: string): () => { providerSpec: object; secret: object } {
  const read = (file: string) => JSON.parse(readFileSync(new URL(`./${folder}/${file}`, import.meta.url), 'utf8')) as object;
  return () => ({ providerSpec: read('provider-spec.schema.json'), secret: read('secret.schema.json') });
}

/**
 * Every cloud this driver serves. Adding one is a folder and an entry here.
 * Each adapter's module (its code, schemas and compiled validators) is
 * imported when a class of that cloud first arrives, so a sidecar pays only
 * for the clouds it serves.
 */
export function defaultProviders(options: ProvidersOptions = {}): ProviderRegistry {
  const common = { httpTimeoutMs: options.httpTimeoutMs, retry: options.retry, maxResponseBytes: options.maxResponseBytes };
  const entries: ProviderEntry[] = [
    {
      name: 'STACKIT',
      // StackitSession keeps only what open() derived from the class and Secret.
      reuseSessions: true,
      schemas: schemaFiles('stackit'),
      load: async () => new (await import('./stackit/stackit-provider.js')).StackitProvider({ ...common, ...options.stackit }),
    },
    {
      name: 'CloudSigma',
      // CloudSigmaSession keeps only what open() derived from the class and Secret (its API and auth clients are the provider's, per credential).
      reuseSessions: true,
      schemas: schemaFiles('cloudsigma'),
      load: async () => new (await import('./cloudsigma/cloudsigma-provider.js')).CloudSigmaProvider(common),
    },
    {
      name: 'VPSie',
      // Not reused: a VpsieSession carries the discovery deadline of the call that opened it (vpsie-provider.ts, callDeadline).
      reuseSessions: false,
      schemas: schemaFiles('vpsie'),
      load: async () => new (await import('./vpsie/vpsie-provider.js')).VpsieProvider(common),
    },
  ];
  return new ProviderRegistry(entries);
}
