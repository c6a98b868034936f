/** A counting semaphore: bounds HTTP requests in flight across all deliveries (backoff waits hold no slot). */
export class Semaphore {
  private available: number;
  private readonly waiters: (() => void)[] = [];
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
    const next = this.waiters.shift();
    if (next) next();
    else this.available++;
  }

  get inUse(): number {
    return this.capacity - this.available;
  }
}
