/**
 * How far the subscription snapshot can be trusted, from the events the cache reports. No I/O but the clock.
 *
 * States: `unavailable` (not started, or stopped) → `fresh` (the LISTEN connection is up and a full load
 * began after it came up, and no reload has failed since: every change reaches us, age 0) ⇄ `degraded`
 * (listener down or the last reload failed: the last snapshot keeps serving; age = time since it was last
 * known to match Postgres) → `stale` (age > maxStalenessMs: the consumer pauses) → back by itself.
 * A full load resets the age even while the listener is down; degraded → stale happens with time alone,
 * so a timer re-checks at the deadline.
 */
import type { Clock } from '../clock.js';
import { ErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';

export type SubscriptionCacheState = 'unavailable' | 'fresh' | 'degraded' | 'stale';
export type StateListener = (state: SubscriptionCacheState, previous: SubscriptionCacheState) => void;

/** Taken when a full load begins; the load confirms the listener only if it began after the listener came up. */
export interface FullLoadTicket {
  readonly startedAt: number;
  readonly generation: number;
  readonly listenerWasUp: boolean;
}

export class SnapshotFreshness {
  private started = false;
  private state: SubscriptionCacheState = 'unavailable';
  private confirmedAt = 0;
  private listenerUp = false;
  /** Bumped at each listener up/down. */
  private generation = 0;
  private listenerSynced = false;
  private reloadFailing = false;
  private watchArmed = false;
  private readonly listeners = new Set<StateListener>();

  constructor(
    private readonly clock: Clock,
    private readonly maxStalenessMs: number,
    private readonly logger: Logger,
    private readonly stopping: AbortSignal,
  ) {}

  get current(): SubscriptionCacheState {
    if (!this.started) return 'unavailable';
    if (this.healthy()) return 'fresh';
    return this.ageMs() <= this.maxStalenessMs ? 'degraded' : 'stale';
  }

  ageMs(): number {
    if (!this.started) return Infinity;
    return this.healthy() ? 0 : Math.max(0, this.clock.now() - this.confirmedAt);
  }

  isUsable(): boolean {
    return this.ageMs() <= this.maxStalenessMs;
  }

  onStateChange(listener: StateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** After the initial full load succeeded. */
  start(): void {
    this.started = true;
    this.update();
  }

  stop(): void {
    this.started = false;
    this.update();
  }

  listenerConnected(): void {
    this.listenerUp = true;
    this.generation++;
    this.listenerSynced = false;
    this.update();
  }

  listenerLost(): void {
    this.pin();
    this.listenerUp = false;
    this.generation++;
    this.listenerSynced = false;
    this.update();
  }

  beginFullLoad(): FullLoadTicket {
    return { startedAt: this.clock.now(), generation: this.generation, listenerWasUp: this.listenerUp };
  }

  fullLoadSucceeded(ticket: FullLoadTicket): void {
    this.confirmedAt = ticket.startedAt;
    this.reloadFailing = false;
    if (ticket.listenerWasUp && this.listenerUp && ticket.generation === this.generation) {
      this.listenerSynced = true;
    }
    this.update();
  }

  partialLoadSucceeded(): void {
    this.update();
  }

  reloadFailed(): void {
    this.pin();
    this.reloadFailing = true;
    this.update();
  }

  private healthy(): boolean {
    return this.listenerUp && this.listenerSynced && !this.reloadFailing;
  }

  /** Before something that may end health: the snapshot was known good until now. */
  private pin(): void {
    if (this.started && this.healthy()) this.confirmedAt = this.clock.now();
  }

  private update(): void {
    const next = this.current;
    if (next === 'degraded') this.watchForStaleness();
    if (next === this.state) return;
    const previous = this.state;
    this.state = next;
    const level = next === 'fresh' || next === 'unavailable' ? 'info' : 'warn';
    const code = level === 'warn' ? ErrorCode.SUBSCRIPTIONS_UNAVAILABLE : undefined;
    this.logger[level](
      { state: next, previous, snapshotAgeMs: this.ageMs(), code },
      `subscriptions: snapshot ${next}`,
    );
    for (const listener of this.listeners) {
      try {
        listener(next, previous);
      } catch (err) {
        this.logger.error({ err }, 'subscriptions: state listener threw');
      }
    }
  }

  private watchForStaleness(): void {
    if (this.watchArmed) return;
    this.watchArmed = true;
    const remaining = Math.max(0, this.maxStalenessMs - this.ageMs()) + 1;
    void this.clock.sleep(remaining, this.stopping).then(() => {
      this.watchArmed = false;
      if (!this.stopping.aborted) this.update();
    });
  }
}
