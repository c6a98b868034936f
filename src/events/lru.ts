/**
 * A bounded least-recently-used map. A JS Map iterates in insertion order, so re-inserting on every hit
 * keeps the least recently used key first, and eviction is "delete the first key": O(1) both ways.
 *
 * The first key comes from one iterator kept for the cache's life, not from a new `keys().next()` per
 * eviction: V8 leaves a deleted entry as a hole in the Map's table until it is rebuilt, and a fresh
 * iterator walks every hole from the start. Past a full 100,000-entry cache that walk cost 9–27 µs per
 * eviction (the delivery log's message-key cache of the time, one eviction per event); the kept iterator
 * resumes where it stopped, about 0.2–0.8 µs. It stays right because a Map iterator is live (ECMAScript: entries added
 * later are visited, deleted ones skipped) and every key behind it was evicted by it or moved to the end
 * by a hit, so its next key is always the oldest one.
 */
export class LruCache<K, V> {
  readonly #max: number;
  readonly #map = new Map<K, V>();
  #oldest: Iterator<K> = this.#map.keys();

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
      // Never done here: the Map holds more than #max ≥ 1 keys, all of them ahead of the iterator.
      this.#map.delete(this.#oldest.next().value as K);
    }
    return value;
  }

  delete(key: K): boolean {
    return this.#map.delete(key);
  }

  clear(): void {
    this.#map.clear();
    this.#oldest = this.#map.keys();
  }

  /** Keys from least to most recently used (for tests and debugging). */
  keys(): K[] {
    return [...this.#map.keys()];
  }
}
