/**
 * The writer's in-memory state, no I/O: a bounded FIFO of attempts waiting to be written, and the message
 * keys already written per UTC day (a bounded LRU). Guarantee: `offer` never blocks and never grows the
 * queue past `maxPending`; past it the attempt is dropped (counted by the caller), because the log must
 * never hold or slow a delivery. A message row rides with the first accepted attempt of its event on a
 * given UTC day, so every day's partition holds the messages of its attempts (retention drops both
 * together) and an attempt that is dropped never leaves a message row behind.
 */
import { LruCache } from '../events/lru.js';
import type { AttemptRow, MessageRow, PendingAttempt } from './rows.js';

export class PendingAttempts {
  private items: PendingAttempt[] = [];
  private head = 0;
  /** message_key → UTC day number of the last message row queued for it. */
  private readonly written: LruCache<string, number>;

  constructor(
    private readonly maxPending: number,
    lruSize: number,
  ) {
    this.written = new LruCache(lruSize);
  }

  get size(): number {
    return this.items.length - this.head;
  }

  /** Queues the attempt (with its message when not yet queued that day); false = dropped (queue full). */
  offer(attempt: AttemptRow, message: () => MessageRow): boolean {
    if (this.size >= this.maxPending) return false;
    const day = Math.floor(attempt.attemptedAt / 86_400_000);
    const seen = this.written.get(attempt.messageKey);
    const withMessage = seen === day ? undefined : message();
    if (withMessage !== undefined) this.written.set(attempt.messageKey, day);
    this.items.push({ attempt, message: withMessage });
    return true;
  }

  /** The oldest `max` entries, left in the queue until `remove` (a failed write keeps them). */
  peek(max: number): PendingAttempt[] {
    return this.items.slice(this.head, this.head + max);
  }

  /** Removes the `n` oldest entries (written, or given up). */
  remove(n: number): void {
    this.head += Math.min(n, this.size);
    // Compact now and then instead of shift() per entry (O(n) each).
    if (this.head > 1_024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
