/**
 * A bounded least-recently-used map. A JS Map iterates in insertion order, so re-inserting on every hit
 * keeps the least recently used key first, and eviction is "delete the first key": O(1) both ways.
 */
export class LruCache<K, V> {
  readonly #max: number;
  readonly #map = new Map<K, V>();

  constructor(maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(`LRU size must be a positive integer, got ${maxEntries}`);
    }
    this.#max = maxEntries;
  }

  get maxEntries(): number {
    return this.#max;
  }

  get size(): number {
    return this.#map.size;
  }

  /** The value, and marks the key as the most recently used. */
  get(key: K): V | undefined {
    if (!this.#map.has(key)) return undefined;
    const value = this.#map.get(key) as V;
    this.#map.delete(key);
    this.#map.set(key, value);
    return value;
  }

  /** The value without touching its recency. */
  peek(key: K): V | undefined {
    return this.#map.get(key);
  }

  /** Whether the key is cached, without touching its recency. */
  has(key: K): boolean {
    return this.#map.has(key);
  }

  /** Stores the value as the most recently used; evicts the least recently used key past the bound. */
  set(key: K, value: V): V {
    this.#map.delete(key);
    this.#map.set(key, value);
    while (this.#map.size > this.#max) {
      const oldest = this.#map.keys().next().value as K;
      this.#map.delete(oldest);
    }
    return value;
  }

  delete(key: K): boolean {
    return this.#map.delete(key);
  }

  clear(): void {
    this.#map.clear();
  }

  /** Keys from least to most recently used (for tests and debugging). */
  keys(): K[] {
    return [...this.#map.keys()];
  }
}
