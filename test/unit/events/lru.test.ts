import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { LruCache } from '../../../src/events/lru.js';

/** The obvious LRU: an array from least to most recently used. */
class ModelLru {
  keys: number[] = [];
  values = new Map<number, number>();
  constructor(private readonly max: number) {}
  touch(k: number): void {
    this.keys = this.keys.filter((x) => x !== k);
    this.keys.push(k);
  }
  get(k: number): number | undefined {
    if (!this.values.has(k)) return undefined;
    this.touch(k);
    return this.values.get(k);
  }
  set(k: number, v: number): void {
    this.values.set(k, v);
    this.touch(k);
    while (this.keys.length > this.max) this.values.delete(this.keys.shift()!);
  }
  delete(k: number): void {
    this.values.delete(k);
    this.keys = this.keys.filter((x) => x !== k);
  }
  clear(): void {
    this.keys = [];
    this.values.clear();
  }
}

type Op =
  | { op: 'set'; k: number; v: number }
  | { op: 'get'; k: number }
  | { op: 'peek'; k: number }
  | { op: 'delete'; k: number }
  | { op: 'clear' };

const opArb = (keys: number): fc.Arbitrary<Op> =>
  fc.oneof(
    { weight: 10, arbitrary: fc.record({ op: fc.constant('set' as const), k: fc.nat(keys), v: fc.nat() }) },
    { weight: 6, arbitrary: fc.record({ op: fc.constant('get' as const), k: fc.nat(keys) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('peek' as const), k: fc.nat(keys) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), k: fc.nat(keys) }) },
    { weight: 1, arbitrary: fc.constant({ op: 'clear' as const }) },
  );

describe('LruCache', () => {
  it('behaves as an exact LRU under any sequence of set, get, peek, delete and clear', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.array(opArb(40), { maxLength: 400 }), (max, ops) => {
        const lru = new LruCache<number, number>(max);
        const model = new ModelLru(max);
        for (const o of ops) {
          if (o.op === 'set') {
            lru.set(o.k, o.v);
            model.set(o.k, o.v);
          } else if (o.op === 'get') {
            expect(lru.get(o.k)).toBe(model.get(o.k));
          } else if (o.op === 'peek') {
            expect(lru.peek(o.k)).toBe(model.values.get(o.k));
          } else if (o.op === 'delete') {
            lru.delete(o.k);
            model.delete(o.k);
          } else {
            lru.clear();
            model.clear();
          }
          expect(lru.keys()).toEqual(model.keys);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('evicts in LRU order past many Map rebuilds (far more evictions than its size)', () => {
    // Ten times the bound in new keys, with every third access a hit on a recent key: the Map's table is
    // rebuilt many times over while the cache keeps one eviction iterator.
    const max = 1_000;
    const lru = new LruCache<number, number>(max);
    const model = new ModelLru(max);
    for (let i = 0; i < 10 * max; i++) {
      const k = i % 3 === 0 && i > 5 ? i - 5 : i;
      if (lru.get(k) === undefined) lru.set(k, i);
      if (model.get(k) === undefined) model.set(k, i);
      if (i % 997 === 0) expect(lru.keys()).toEqual(model.keys);
    }
    expect(lru.size).toBe(max);
    expect(lru.keys()).toEqual(model.keys);
    lru.clear();
    for (let i = 0; i < 3 * max; i++) lru.set(i, i);
    expect(lru.keys()).toEqual(Array.from({ length: max }, (_, j) => 2 * max + j));
  });
});
