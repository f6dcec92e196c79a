/**
 * The first endpoint that is set, in the order a provider documents (a
 * Secret key, an option, env variables, a default). An empty string counts
 * as unset: a container env `FOO=` must not point the driver at "".
 */
export function firstSet(...candidates: Array<string | undefined>): string | undefined {
  return candidates.find((c) => c !== undefined && c !== '');
}
