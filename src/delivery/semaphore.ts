/**
 * A counting semaphore: bounds HTTP requests in flight across all deliveries (backoff waits hold no slot).
 * A wait can be abandoned with an AbortSignal (shutdown, revoked partition): the waiter leaves the queue
 * at once, holding nothing, and a later release skips it.
 */
interface Waiter {
  /** Cleared when the waiter is granted or abandoned, so it is woken at most once. */
  grant: (() => void) | null;
}

export class Semaphore {
  private available: number;
  // A FIFO with a moving head: thousands of queued deliveries must not make each release O(n).
  private waiters: Waiter[] = [];
  private head = 0;
  constructor(readonly capacity: number) {
    this.available = capacity;
  }

  /**
   * Nothing (undefined) when a slot was free: it is held now. Otherwise a promise of true once a slot is
   * held, or of false when `signal` aborted first (no slot held; do not release).
   */
  acquire(signal?: AbortSignal): Promise<boolean> | void {
    if (this.available > 0) {
      this.available--;
      return;
    }
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener('abort', abandon);
          resolve(true);
        },
      };
      function abandon(): void {
        if (waiter.grant === null) return;
        waiter.grant = null;
        resolve(false);
      }
      signal?.addEventListener('abort', abandon, { once: true });
      this.waiters.push(waiter);
    });
  }

  release(): void {
    while (this.head < this.waiters.length) {
      const next = this.waiters[this.head++]!;
      if (this.head > 1024 && this.head * 2 > this.waiters.length) {
        this.waiters = this.waiters.slice(this.head);
        this.head = 0;
      }
      const grant = next.grant;
      if (grant === null) continue; // abandoned: the slot goes to the next waiter
      next.grant = null;
      grant();
      return;
    }
    this.available++;
  }

  get inUse(): number {
    return this.capacity - this.available;
  }
}
