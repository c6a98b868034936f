import { describe, expect, it } from '@jest/globals';
import { PartitionOffsets } from '../../../src/consumer/offset-tracker.js';

/** Deterministic shuffle (mulberry32) so a failure is reproducible. */
function shuffled<T>(items: T[], seed: number): T[] {
  let a = seed >>> 0;
  const random = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function taken(...offsets: number[]): PartitionOffsets {
  const p = new PartitionOffsets();
  for (const o of offsets) p.take(o);
  return p;
}

describe('PartitionOffsets', () => {
  it('has nothing to commit before any record is taken or done', () => {
    const p = new PartitionOffsets();
    expect(p.committable()).toBeNull();
    p.take(10);
    p.take(11);
    expect(p.committable()).toBeNull();
    expect(p.pending).toBe(2);
  });

  it('counts as pending (the PARTITION_MAX_IN_FLIGHT window) records taken and not done, committed or not', () => {
    const p = taken(10, 11, 12);
    p.done(11);
    p.done(12);
    expect(p.committable()).toBeNull(); // 11 and 12 are done but wait behind 10 for their commit...
    expect(p.pending).toBe(1); // ...and no longer take a place in the window
  });

  it('commits only over the contiguous done prefix when deliveries finish out of order', () => {
    const p = taken(10, 11, 12, 13);
    p.done(12);
    p.done(13);
    expect(p.committable()).toBeNull(); // 10 is still running: committing 14 would lose it
    p.done(11);
    expect(p.committable()).toBeNull();
    p.done(10);
    expect(p.committable()).toBe(14);
    expect(p.pending).toBe(0);
  });

  it('stops at the first unfinished record', () => {
    const p = taken(0, 1, 2, 3, 4);
    p.done(0);
    p.done(1);
    p.done(3);
    expect(p.committable()).toBe(2);
    p.markCommitted(2);
    p.done(2);
    expect(p.committable()).toBe(4);
  });

  it('offers nothing new after markCommitted until more records are done', () => {
    const p = taken(5, 6, 7);
    p.done(5);
    expect(p.committable()).toBe(6);
    p.markCommitted(6);
    expect(p.lastCommitted).toBe(6);
    expect(p.committable()).toBeNull();
    expect(p.committable()).toBeNull();
    p.done(6);
    expect(p.committable()).toBe(7);
    p.markCommitted(7);
    p.take(8);
    expect(p.committable()).toBeNull();
    p.done(7);
    p.done(8);
    expect(p.committable()).toBe(9);
  });

  it('never moves the committed offset backwards', () => {
    const p = taken(1, 2, 3);
    p.done(1);
    p.done(2);
    p.markCommitted(3);
    p.markCommitted(2);
    expect(p.lastCommitted).toBe(3);
    expect(p.committable()).toBeNull();
  });

  it('handles gaps in offsets (compacted topics, transaction markers)', () => {
    const p = taken(100, 105, 230, 231, 1_000);
    p.done(105);
    p.done(100);
    expect(p.committable()).toBe(230);
    p.done(231);
    p.done(1_000);
    expect(p.committable()).toBe(230);
    p.done(230);
    expect(p.committable()).toBe(1_001);
  });

  it('ignores done() for offsets never taken or already finished', () => {
    const p = taken(3, 4);
    p.done(99);
    p.done(2);
    expect(p.committable()).toBeNull();
    p.done(3);
    p.done(3);
    expect(p.committable()).toBe(4);
    expect(p.pending).toBe(1);
  });

  it('refuses offsets taken out of order', () => {
    const p = taken(7);
    expect(() => p.take(7)).toThrow();
    expect(() => p.take(6)).toThrow();
  });

  it('reports the highest offset taken', () => {
    const p = new PartitionOffsets();
    expect(p.highestTaken).toBe(-1);
    p.take(41);
    p.take(42);
    expect(p.highestTaken).toBe(42);
    p.done(41);
    p.done(42);
    p.committable();
    p.markCommitted(43);
    expect(p.highestTaken).toBe(42);
  });

  it('ends committable at last+1 after 100k offsets done in random order, never passing an unfinished one', () => {
    const n = 100_000;
    const base = 5_000_000;
    const p = new PartitionOffsets();
    for (let i = 0; i < n; i++) p.take(base + i);
    const order = shuffled(
      Array.from({ length: n }, (_, i) => base + i),
      42,
    );
    const done = new Uint8Array(n);
    let lowestNotDone = 0;
    for (const [k, offset] of order.entries()) {
      p.done(offset);
      done[offset - base] = 1;
      while (lowestNotDone < n && done[lowestNotDone]) lowestNotDone++;
      if (k % 997 === 0) {
        const c = p.committable();
        // The committable offset is exactly the first unfinished one (or null when it did not move).
        if (c !== null) {
          expect(c).toBe(base + lowestNotDone);
          p.markCommitted(c);
        } else {
          expect(base + lowestNotDone).toBeLessThanOrEqual(p.lastCommitted ?? base);
        }
      }
    }
    expect(p.committable()).toBe(base + n);
    expect(p.pending).toBe(0);
    p.markCommitted(base + n);
    expect(p.committable()).toBeNull();
    // Taking more after the big run still works after the internal queue was trimmed.
    p.take(base + n + 10);
    p.done(base + n + 10);
    expect(p.committable()).toBe(base + n + 11);
  });
});
