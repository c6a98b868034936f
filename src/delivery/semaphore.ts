/** A counting semaphore: bounds HTTP requests in flight across all deliveries (backoff waits hold no slot). */
export class Semaphore {
  private available: number;
  // A FIFO with a moving head: thousands of queued deliveries must not make each release O(n).
  private waiters: (() => void)[] = [];
  private head = 0;
  constructor(readonly capacity: number) {
    this.available = capacity;
  }

  acquire(): Promise<void> | void {
    if (this.available > 0) {
      this.available--;
      return;
    }
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    if (this.head < this.waiters.length) {
      const next = this.waiters[this.head++]!;
      if (this.head > 1024 && this.head * 2 > this.waiters.length) {
        this.waiters = this.waiters.slice(this.head);
        this.head = 0;
      }
      next();
    } else {
      this.available++;
    }
  }

  get inUse(): number {
    return this.capacity - this.available;
  }
}
