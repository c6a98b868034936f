/**
 * Ordering lanes: tasks with the same lane key run one after another, in submission order; different lanes
 * run concurrently. The lane of a delivery is (record key, subscription), so one slow receiver delays only
 * its own events of the same key, never other subscribers or other keys. A lane is forgotten once idle.
 */
export class Lanes {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(lane: string | null, task: () => Promise<T>): Promise<T> {
    if (lane === null) return task();
    const previous = this.tails.get(lane);
    const result = previous ? previous.then(task, task) : task();
    this.track(lane, result);
    return result;
  }

  private track(lane: string, work: Promise<unknown>): void {
    const tail = work.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(lane, tail);
    void tail.then(() => {
      if (this.tails.get(lane) === tail) this.tails.delete(lane);
    });
  }

  /** No task of this lane is pending (a null lane is never ordered, so always idle). */
  isIdle(lane: string | null): boolean {
    return lane === null || !this.tails.has(lane);
  }

  /**
   * Makes later tasks of `lane` wait for `work`, started by the caller outside the lane (it found the lane
   * idle, so nothing was ahead of it).
   */
  hold(lane: string | null, work: Promise<unknown>): void {
    if (lane === null) return;
    this.track(lane, work);
  }

  get active(): number {
    return this.tails.size;
  }
}
