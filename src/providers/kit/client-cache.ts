/**
 * Clients (HTTP clients with their token caches) per endpoint and credential,
 * so concurrent calls with one Secret share one token and a rotated Secret
 * gets a fresh client. Bounded: every rotation adds a key, and an unbounded
 * map would keep old credentials' clients (and their tokens) forever. The
 * least recently used client is dropped first.
 */
export class ClientCache<V> {
  private readonly entries = new Map<string, V>();

  constructor(private readonly max = 64) {}

  get(key: string, make: () => V): V {
    let value = this.entries.get(key);
    if (value === undefined) {
      value = make();
    } else {
      this.entries.delete(key); // re-inserted below: most recently used last
    }
    this.entries.set(key, value);
    while (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
    return value;
  }

  get size(): number {
    return this.entries.size;
  }
}
