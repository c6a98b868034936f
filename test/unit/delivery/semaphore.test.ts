import { describe, expect, it } from '@jest/globals';
import { Semaphore } from '../../../src/delivery/semaphore.js';

describe('Semaphore', () => {
  it('admits at most its capacity and wakes waiters in FIFO order, across many waiters', async () => {
    const s = new Semaphore(2);
    expect(s.acquire()).toBeUndefined();
    expect(s.acquire()).toBeUndefined();
    const order: number[] = [];
    const waiting = Array.from({ length: 5_000 }, (_, i) =>
      (s.acquire() as Promise<void>).then(() => order.push(i)),
    );
    expect(s.inUse).toBe(2);
    for (let i = 0; i < 5_000; i++) s.release();
    await Promise.all(waiting);
    expect(order).toEqual(Array.from({ length: 5_000 }, (_, i) => i));
    s.release();
    s.release();
    expect(s.inUse).toBe(0);
  });
});
