/**
 * A NIC's allowedAddresses with `wanted` added, or undefined when it already
 * has every one of them (nothing to patch). What the NIC allowed before stays:
 * an operator's own entries are never removed. Exact string match, as the Go
 * provider compares (machine-controller-manager-provider-stackit
 * pkg/provider/create.go, patchNetworkInterfaces).
 */
export function withAllowedAddresses(current: readonly string[] | undefined, wanted: readonly string[]): string[] | undefined {
  const have = [...(current ?? [])];
  const missing = wanted.filter((cidr) => !have.includes(cidr));
  return missing.length > 0 ? [...have, ...missing] : undefined;
}
