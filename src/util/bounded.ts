/** Per-isolate maps with a size bound: every cache and replay set of keymint uses these two helpers. */

/** Sets `key`, dropping the oldest entries first (insertion order) so that `map` never holds more than `max`. */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  while (map.size >= max) {
    const oldest = map.keys().next();
    if (oldest.done) break;
    map.delete(oldest.value);
  }
  map.set(key, value);
}

/**
 * A set of ids remembered until an expiry (Unix seconds): `claim` answers whether an id is new, the core of
 * every replay check (client assertions' and DPoP proofs' `jti`). When full, the oldest id goes first; ids are
 * claimed in about the order they expire, so that is the one closest to expiry.
 */
export class ExpiringSet {
  readonly #until = new Map<string, number>();
  readonly #max: number;
  constructor(max: number) {
    this.#max = max;
  }

  /** Whether `id` is remembered and not expired at `now` (inclusive: still refused at its last second). */
  has(id: string, now: number): boolean {
    const until = this.#until.get(id);
    return until !== undefined && until >= now;
  }

  /** Remembers `id` until `until`; `false` when it was already remembered (a replay). */
  claim(id: string, until: number, now: number): boolean {
    if (this.has(id, now)) return false;
    setBounded(this.#until, id, until, this.#max);
    return true;
  }

  /** Forgets `id` (a claim whose use did not go through). */
  release(id: string): void {
    this.#until.delete(id);
  }
}
