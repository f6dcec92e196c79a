import type { SecretData } from '../../driver/provider.js';

/** A Secret's data as text (MCM hands the bytes as Kubernetes stores them). */
export function decodeSecret(data: SecretData): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) out[k] = Buffer.from(v).toString('utf8');
  return out;
}
