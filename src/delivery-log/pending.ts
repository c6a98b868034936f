/**
 * The writer's in-memory state, no I/O: a bounded FIFO of attempts waiting to be written, and which events
 * already have a message row queued per UTC day. Guarantee: `offer` never blocks and never grows the queue
 * past `maxPending`; past it the attempt is dropped (counted by the caller), because the log must never
 * hold or slow a delivery. A message row rides with the first accepted attempt of its event on a given
 * UTC day, so every day's partition holds the messages of its attempts (retention drops both together)
 * and an attempt that is dropped never leaves a message row behind.
 *
 * Which events were logged is known by the event object first: a fan-out's deliveries and the in-process
 * retries of a record share its decoded event, so a WeakMap on it answers them, and the first scheduled
 * attempt of an event object not seen before is a new event. Only the other attempts (the parked runner's
 * and manual ones, whose events are rebuilt from rows) use the key memory, two generations of plain Maps.
 * Keys are not remembered for the in-process path: a string-keyed Map of 100,000 keys, written or read
 * on every attempt, missed the CPU caches under load (Postgres and the broker on the same cores) and cost
 * the delivery thread several µs per attempt (bench/README.md "Delivery log"). So when the parked runner
 * or a person first retries an event, its row is queued `unsure`: the writer adds it only if that day has
 * no row of its key (a check in Postgres, on the slow path only). A record consumed again after a
 * rebalance logs its event twice; readers take any copy.
 */
import type { AttemptRow, MessageRow, PendingAttempt } from './rows.js';

/**
 * Keys with a value, remembered for at least the last `max / 2` keys set and at most `max`: two
 * generations, the older dropped whole when the newer is full. One Map write per `set`, no reordering.
 */
export class RecentKeys<V> {
  private current = new Map<string, V>();
  private previous = new Map<string, V>();
  private readonly half: number;

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`key memory size must be a positive integer, got ${max}`);
    }
    this.half = Math.max(1, Math.floor(max / 2));
  }

  get(key: string): V | undefined {
    return this.current.get(key) ?? this.previous.get(key);
  }

  set(key: string, value: V): void {
    if (this.current.size >= this.half && !this.current.has(key)) {
      this.previous = this.current;
      this.current = new Map();
    }
    this.current.set(key, value);
  }
}

export class PendingAttempts {
  private items: PendingAttempt[] = [];
  private head = 0;
  /** message_key → UTC day number of the last message row queued for it. */
  private readonly written: RecentKeys<number>;
  /** Event object → UTC day number of the last message row queued for it. */
  private readonly loggedEvents = new WeakMap<object, number>();

  constructor(
    private readonly maxPending: number,
    keys: number,
  ) {
    this.written = new RecentKeys(keys);
  }

  get size(): number {
    return this.items.length - this.head;
  }

  /**
   * Queues the attempt (with its message when not yet queued that day); false = dropped (queue full).
   * `event`: the attempt's event object, when there is one to remember (see above).
   */
  offer(attempt: AttemptRow, message: () => MessageRow, event?: object): boolean {
    if (this.size >= this.maxPending) return false;
    const day = Math.floor(attempt.attemptedAt / 86_400_000);
    if (event !== undefined && this.loggedEvents.get(event) === day) {
      this.items.push({ attempt, message: undefined });
    } else if (event !== undefined && attempt.attempt === 1 && attempt.trigger === 'scheduled') {
      this.loggedEvents.set(event, day);
      this.items.push({ attempt, message: message() });
    } else {
      if (event !== undefined) this.loggedEvents.set(event, day);
      if (this.written.get(attempt.messageKey) === day) {
        this.items.push({ attempt, message: undefined });
      } else {
        this.written.set(attempt.messageKey, day);
        this.items.push({ attempt, message: message(), unsure: true });
      }
    }
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
