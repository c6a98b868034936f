import { describe, expect, it } from '@jest/globals';
import { createBatcher } from '../../../src/parking/park-batcher.js';

class Refused extends Error {}

/** A writer that records each batch and refuses a batch holding a negative number. */
function recorder(delay = 0): { batches: number[][]; write: (items: readonly number[]) => Promise<void> } {
  const batches: number[][] = [];
  return {
    batches,
    write: async (items) => {
      batches.push([...items]);
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (items.some((i) => i < 0)) throw new Refused('bad item');
    },
  };
}

const isolate = (err: unknown): boolean => err instanceof Refused;

describe('createBatcher', () => {
  it('writes calls of the same moment in one batch, each settled with it', async () => {
    const r = recorder();
    const add = createBatcher({ delayMs: 5, maxItems: 100, write: r.write, isolate });
    await Promise.all([add([1]), add([2, 3]), add([4])]);
    expect(r.batches).toEqual([[1, 2, 3, 4]]);
  });

  it('starts a batch at once when maxItems wait, and writes one batch at a time', async () => {
    const r = recorder(20);
    const add = createBatcher({ delayMs: 60_000, maxItems: 2, write: r.write, isolate });
    const started = Date.now();
    await Promise.all([add([1]), add([2]), add([3]), add([4, 5, 6]), add([7])]);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(r.batches).toEqual([[1, 2], [3], [4, 5, 6], [7]]);
  });

  it('writes what gathered during a batch right after it, without a new delay', async () => {
    const r = recorder(30);
    const add = createBatcher({ delayMs: 1, maxItems: 100, write: r.write, isolate });
    const first = add([1]);
    await new Promise((resolve) => setTimeout(resolve, 10)); // the first batch is being written
    const started = Date.now();
    await Promise.all([first, add([2]), add([3])]);
    expect(r.batches).toEqual([[1], [2, 3]]);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('rejects only the call whose items were refused', async () => {
    const r = recorder();
    const add = createBatcher({ delayMs: 1, maxItems: 100, write: r.write, isolate });
    const results = await Promise.allSettled([add([1]), add([-1]), add([2])]);
    expect(results.map((x) => x.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('rejects every call of a batch when the writer is down', async () => {
    const add = createBatcher<number>({
      delayMs: 1,
      maxItems: 100,
      write: () => Promise.reject(new Error('ECONNREFUSED')),
      isolate,
    });
    const results = await Promise.allSettled([add([1]), add([2])]);
    expect(results.map((x) => x.status)).toEqual(['rejected', 'rejected']);
    await expect(add([3])).rejects.toThrow('ECONNREFUSED');
  });

  it('resolves an empty call at once', async () => {
    const r = recorder();
    const add = createBatcher({ delayMs: 1, maxItems: 100, write: r.write, isolate });
    await add([]);
    expect(r.batches).toEqual([]);
  });
});
