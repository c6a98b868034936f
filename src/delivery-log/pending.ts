/**
 * The writer's in-memory state, no I/O: a bounded queue of attempts waiting to be written, already encoded
 * into batches (log-sql.ts `LogBatch`), and which events already have a row queued per UTC day.
 *
 * Guarantee: `offer` never blocks and never grows the queue past `maxPending` attempts; past it the attempt
 * is dropped (counted by the caller), because the log must never hold or slow a delivery. An attempt is
 * encoded when it is offered: nothing of it (row object, event, Kafka record) stays reachable until its
 * batch is written. The batches' memory is reused: a written batch is emptied and filled again, so the log
 * holds a few Buffers of a batch's size instead of making new ones (external memory, which V8 counts
 * toward its next full collection).
 *
 * A message row rides with the first accepted attempt of its event on a given UTC day, so every day's
 * partition holds the messages of its attempts (retention drops both together) and an attempt that is
 * dropped never leaves a message row behind.
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
import { LogBatch } from './log-sql.js';
import type { AttemptRow, MessageRow } from './rows.js';

/** Encoder memory kept for reuse; a batch of larger rows grows it, and it is let go after. */
export const ENCODER_KEEP_BYTES = 16 * 1024 * 1024;
/** Emptied batches kept for reuse (one being filled, one being written, one spare). */
const SPARE_BATCHES = 2;

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

/** Whether an accepted attempt takes its event's row along: no, yes, or yes unless that day has one. */
export type EventRow = 'none' | 'new' | 'unsure';

/** Which events have a row queued, per UTC day (see above). */
export class LoggedEvents {
  /** message_key → UTC day number of the last message row queued for it. */
  private readonly written: RecentKeys<number>;
  /** Event object → UTC day number of the last message row queued for it. */
  private readonly byObject = new WeakMap<object, number>();

  constructor(keys: number) {
    this.written = new RecentKeys(keys);
  }

  /** For an attempt accepted into the queue; `event`: its event object, when there is one to remember. */
  rowFor(attempt: AttemptRow, event?: object): EventRow {
    const day = Math.floor(attempt.attemptedAt / 86_400_000);
    if (event !== undefined && this.byObject.get(event) === day) return 'none';
    if (event !== undefined && attempt.attempt === 1 && attempt.trigger === 'scheduled') {
      this.byObject.set(event, day);
      return 'new';
    }
    if (event !== undefined) this.byObject.set(event, day);
    if (this.written.get(attempt.messageKey) === day) return 'none';
    this.written.set(attempt.messageKey, day);
    return 'unsure';
  }
}

export interface PendingOptions {
  readonly maxPending: number;
  /** Attempts per batch. */
  readonly batch: number;
  /** The writer's instance (host:pid:random), on every attempt row. */
  readonly instance: string;
  /** Event keys remembered for the attempts that need them (see above). */
  readonly keys: number;
}

export class PendingAttempts {
  private readonly events: LoggedEvents;
  private readonly instance: Buffer;
  private open: LogBatch;
  /** Full (or flushed) batches, oldest first, waiting to be written. */
  private readonly sealed: LogBatch[] = [];
  private readonly spare: LogBatch[] = [];
  private count = 0;

  constructor(private readonly o: PendingOptions) {
    this.events = new LoggedEvents(o.keys);
    this.instance = Buffer.from(o.instance, 'utf8');
    this.open = new LogBatch(o.batch);
    for (let i = 0; i < SPARE_BATCHES; i++) this.spare.push(new LogBatch(o.batch));
  }

  /** Attempts queued (in every batch). */
  get size(): number {
    return this.count;
  }

  /** Whether a whole batch waits to be written. */
  get hasFull(): boolean {
    return this.sealed.length > 0;
  }

  /** Bytes of memory the batches hold. */
  get capacity(): number {
    let n = this.open.capacity;
    for (const b of this.sealed) n += b.capacity;
    for (const b of this.spare) n += b.capacity;
    return n;
  }

  /**
   * Encodes the attempt into the open batch (with its event's row when not yet queued that day); false =
   * dropped (queue full). `event`: the attempt's event object, when there is one to remember (see above).
   */
  offer(attempt: AttemptRow, message: () => MessageRow, event?: object): boolean {
    if (this.count >= this.o.maxPending) return false;
    const row = this.events.rowFor(attempt, event);
    this.open.add(attempt, row === 'none' ? undefined : message(), row === 'unsure', this.instance);
    this.count++;
    if (this.open.rows >= this.o.batch) this.seal();
    return true;
  }

  /** Closes the open batch (when it has rows), so that the next `peek` has it: the flush. */
  seal(): void {
    if (this.open.rows === 0) return;
    this.open.seal();
    this.sealed.push(this.open);
    this.open = this.spare.pop() ?? new LogBatch(this.o.batch);
  }

  /** The oldest sealed batch, left in the queue until `remove` (a failed write retries it as it is). */
  peek(): LogBatch | undefined {
    return this.sealed[0];
  }

  /** Removes the oldest sealed batch (written, or given up); its memory is reused unless a write failed. */
  remove(): void {
    const b = this.sealed.shift();
    if (b === undefined) return;
    this.count -= b.rows;
    if (!b.failed && b.capacity <= ENCODER_KEEP_BYTES && this.spare.length < SPARE_BATCHES) {
      this.spare.push(b.reset());
    }
  }

  /** Drops everything queued; returns how many attempts. */
  clear(): number {
    const n = this.count;
    // Let go, not reused: a write of one may still be in flight (a stop whose budget ran out).
    this.sealed.length = 0;
    this.open.reset();
    this.count = 0;
    return n;
  }
}
