/**
 * One circuit breaker per subscription, per instance. States: closed (attempts go out; the attempts and
 * failures of the last windowMs are counted) → open when at least minAttempts attempts were made in the
 * window and failurePercent % of them failed (deliveries park without an attempt until the cool-down
 * ends) → half_open at the first admission after the cool-down: exactly one caller gets a probe attempt,
 * the others park → closed (window cleared) when the probe succeeds, open for another cool-down when it
 * fails. A probe whose result never comes (its caller died) is replaced after a cool-down. Pure: time
 * comes from `now`. Memory: a closed circuit with no attempt for windowMs is forgotten.
 */

export type CircuitState = 'closed' | 'open' | 'half_open';

export type Admission =
  { readonly kind: 'attempt'; readonly probe: boolean } | { readonly kind: 'park'; readonly untilMs: number };

export interface CircuitBreakerOptions {
  /** Opens when failures × 100 >= failurePercent × attempts in the window. */
  readonly failurePercent: number;
  /** Fewer attempts in the window never open the circuit. */
  readonly minAttempts: number;
  readonly windowMs: number;
  readonly cooldownMs: number;
  readonly now: () => number;
  readonly onTransition?: (id: string, to: CircuitState) => void;
}

/**
 * The window is BUCKETS time buckets of windowMs / BUCKETS: constant memory per subscription whatever its
 * rate, at the price of counting between (BUCKETS-1)/BUCKETS and all of windowMs.
 */
const BUCKETS = 10;

interface Circuit {
  state: CircuitState;
  /** open: end of the cool-down; half_open: when an unanswered probe may be replaced. */
  untilMs: number;
  /** Bucket number (time / bucketMs) per slot, and its counts. */
  readonly epochs: number[];
  readonly attempts: number[];
  readonly failures: number[];
  lastAttemptAt: number;
  /** Last admit or record: a circuit nobody asks about any more (subscription deleted) can go. */
  lastSeenAt: number;
}

export class CircuitBreakers {
  private readonly circuits = new Map<string, Circuit>();
  private readonly bucketMs: number;
  private nextSweepAt: number;

  constructor(private readonly opts: CircuitBreakerOptions) {
    this.bucketMs = Math.max(1, Math.ceil(opts.windowMs / BUCKETS));
    this.nextSweepAt = opts.now() + opts.windowMs;
  }

  /** Whether a delivery to `id` may be attempted now, or must park until `untilMs`. */
  admit(id: string): Admission {
    const now = this.opts.now();
    this.sweep(now);
    const c = this.circuits.get(id);
    if (c !== undefined) c.lastSeenAt = now;
    if (c === undefined || c.state === 'closed') return { kind: 'attempt', probe: false };
    if (now < c.untilMs) return { kind: 'park', untilMs: c.untilMs };
    // Cool-down over (open), or the probe's answer is overdue (half_open): this caller probes.
    c.untilMs = now + this.opts.cooldownMs;
    if (c.state === 'open') this.transition(id, c, 'half_open');
    return { kind: 'attempt', probe: true };
  }

  /** The result of an attempt admitted by `admit`; `probe` as `admit` said. */
  record(id: string, ok: boolean, probe: boolean): void {
    const now = this.opts.now();
    this.sweep(now);
    let c = this.circuits.get(id);
    if (c === undefined) {
      c = {
        state: 'closed',
        untilMs: 0,
        epochs: new Array<number>(BUCKETS).fill(-1),
        attempts: new Array<number>(BUCKETS).fill(0),
        failures: new Array<number>(BUCKETS).fill(0),
        lastAttemptAt: now,
        lastSeenAt: now,
      };
      this.circuits.set(id, c);
    }
    c.lastAttemptAt = now;
    c.lastSeenAt = now;
    if (probe && c.state === 'half_open') {
      if (ok) {
        c.attempts.fill(0);
        c.failures.fill(0);
        this.transition(id, c, 'closed');
      } else {
        this.count(c, now, false);
        c.untilMs = now + this.opts.cooldownMs;
        this.transition(id, c, 'open');
      }
      return;
    }
    // Results of attempts admitted before the circuit opened only count; they do not move it.
    this.count(c, now, ok);
    if (c.state !== 'closed') return;
    const { attempts, failures } = this.totals(c, now);
    if (attempts >= this.opts.minAttempts && failures * 100 >= this.opts.failurePercent * attempts) {
      c.untilMs = now + this.opts.cooldownMs;
      this.transition(id, c, 'open');
    }
  }

  state(id: string): CircuitState {
    return this.circuits.get(id)?.state ?? 'closed';
  }

  /** Subscriptions whose circuit is open or half-open. */
  nonClosed(): { id: string; state: CircuitState }[] {
    const out: { id: string; state: CircuitState }[] = [];
    for (const [id, c] of this.circuits) if (c.state !== 'closed') out.push({ id, state: c.state });
    return out;
  }

  /**
   * Subscriptions whose circuit refuses every attempt now (open in its cool-down, or half-open with its
   * probe out): the parked runner does not claim their rows, rather than claim and park them again.
   */
  refusing(): string[] {
    const now = this.opts.now();
    const out: string[] = [];
    for (const [id, c] of this.circuits) if (c.state !== 'closed' && now < c.untilMs) out.push(id);
    return out;
  }

  /** Subscriptions with a circuit in memory (a forgotten one is closed with an empty window). */
  get size(): number {
    return this.circuits.size;
  }

  private count(c: Circuit, now: number, ok: boolean): void {
    const epoch = Math.floor(now / this.bucketMs);
    const slot = epoch % BUCKETS;
    if (c.epochs[slot] !== epoch) {
      c.epochs[slot] = epoch;
      c.attempts[slot] = 0;
      c.failures[slot] = 0;
    }
    c.attempts[slot]! += 1;
    if (!ok) c.failures[slot]! += 1;
  }

  private totals(c: Circuit, now: number): { attempts: number; failures: number } {
    const oldest = Math.floor(now / this.bucketMs) - BUCKETS + 1;
    let attempts = 0;
    let failures = 0;
    for (let i = 0; i < BUCKETS; i++) {
      if (c.epochs[i]! >= oldest) {
        attempts += c.attempts[i]!;
        failures += c.failures[i]!;
      }
    }
    return { attempts, failures };
  }

  private transition(id: string, c: Circuit, to: CircuitState): void {
    c.state = to;
    this.opts.onTransition?.(id, to);
  }

  /**
   * At most once per window: forgets closed circuits with no attempt for a whole window, and open or
   * half-open ones nobody asked about for a whole window after their cool-down (a deleted or disabled
   * subscription): those close on the way out, so the circuit gauges do not keep them.
   */
  private sweep(now: number): void {
    if (now < this.nextSweepAt) return;
    this.nextSweepAt = now + this.opts.windowMs;
    for (const [id, c] of this.circuits) {
      if (c.state === 'closed') {
        if (now - c.lastAttemptAt > this.opts.windowMs) this.circuits.delete(id);
      } else if (now - c.lastSeenAt > this.opts.windowMs && now > c.untilMs + this.opts.windowMs) {
        this.circuits.delete(id);
        this.opts.onTransition?.(id, 'closed');
      }
    }
  }
}
