import { ProviderRegistry } from '../driver/provider-registry.js';
import type { RetryPolicy } from '../http/retry-policy.js';
import { CloudSigmaProvider } from './cloudsigma/cloudsigma-provider.js';
import { StackitProvider, type StackitProviderOptions } from './stackit/stackit-provider.js';
import { VpsieProvider } from './vpsie/vpsie-provider.js';

export interface ProvidersOptions {
  httpTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Largest cloud response body read; larger ones fail with ResourceExhausted. */
  maxResponseBytes?: number;
  stackit?: StackitProviderOptions;
}

/** Every cloud this driver serves. Adding one is a folder and a line here. */
export function defaultProviders(options: ProvidersOptions = {}): ProviderRegistry {
  const common = { httpTimeoutMs: options.httpTimeoutMs, retry: options.retry, maxResponseBytes: options.maxResponseBytes };
  return new ProviderRegistry([
    new StackitProvider({ ...common, ...options.stackit }),
    new CloudSigmaProvider(common),
    new VpsieProvider(common),
  ]);
}
