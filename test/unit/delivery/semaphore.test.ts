import { describe, expect, it } from '@jest/globals';
import { getEventListeners } from 'node:events';
import { Semaphore } from '../../../src/delivery/semaphore.js';

describe('Semaphore', () => {
  it('admits at most its capacity and wakes waiters in FIFO order, across many waiters', async () => {
    const s = new Semaphore(2);
    expect(s.acquire()).toBeUndefined();
    expect(s.acquire()).toBeUndefined();
    const order: number[] = [];
    const waiting = Array.from({ length: 5_000 }, (_, i) =>
      (s.acquire() as Promise<boolean>).then(() => order.push(i)),
    );
    expect(s.inUse).toBe(2);
    for (let i = 0; i < 5_000; i++) s.release();
    await Promise.all(waiting);
    expect(order).toEqual(Array.from({ length: 5_000 }, (_, i) => i));
    s.release();
    s.release();
    expect(s.inUse).toBe(0);
  });

  it('lets an aborted waiter leave the queue at once, holding nothing; a release skips it', async () => {
    const s = new Semaphore(1);
    expect(s.acquire()).toBeUndefined();
    const controller = new AbortController();
    const abandoned = s.acquire(controller.signal) as Promise<boolean>;
    const next = s.acquire() as Promise<boolean>;
    controller.abort();
    await expect(abandoned).resolves.toBe(false);
    s.release(); // goes to `next`, not to the abandoned waiter
    await expect(next).resolves.toBe(true);
    expect(s.inUse).toBe(1);
    s.release();
    expect(s.inUse).toBe(0);
    const already = new AbortController();
    already.abort();
    expect(s.acquire(already.signal)).toBeUndefined(); // a free slot is taken even so (callers check the signal)
    await expect(s.acquire(already.signal)).resolves.toBe(false);
    s.release();
    expect(s.inUse).toBe(0);
  });

  it("puts one abort listener on a partition's signal, whatever the number of waiters and semaphores", async () => {
    // All of a partition's deliveries share its signal: a listener per waiter makes each wait O(waiters)
    // (Node's EventTarget scans its list), which a backlog of thousands of deliveries turned into CPU.
    const partition = new AbortController();
    const global = new Semaphore(1);
    const origins = Array.from({ length: 20 }, () => new Semaphore(1));
    for (const s of [global, ...origins]) expect(s.acquire()).toBeUndefined(); // taken at once
    const waits = [global, ...origins].flatMap((s) =>
      Array.from({ length: 500 }, () => s.acquire(partition.signal) as Promise<boolean>),
    );
    expect(getEventListeners(partition.signal, 'abort')).toHaveLength(1);
    global.release(); // one waiter is granted before the abort
    partition.abort();
    const held = await Promise.all(waits);
    expect(held.filter(Boolean)).toHaveLength(1);
    expect(held[0]).toBe(true);
    // Abandoned waiters hold nothing: each semaphore's next release frees its slot for a new acquirer.
    for (const s of origins) s.release();
    expect(origins.every((s) => s.inUse === 0)).toBe(true);
  });
});
