/**
 * The retry schedule: a list of waits before attempts 2..N (RETRY_SCHEDULE), each jittered down by up to
 * `jitter`, lengthened (never shortened) by `Retry-After` up to its own cap. A wait longer than
 * `inProcessMaxMs` parks the delivery instead of sleeping. Pure: time and randomness come from the caller.
 * Attempts are numbered from 1; `attempt` below is the number of the attempt just made.
 */
import type { AttemptOutcome } from './classify.js';

export interface RetryPolicy {
  /** Waits in ms before attempts 2..schedule.length + 1; empty = one attempt only. */
  readonly schedule: readonly number[];
  /** Fraction 0..1: each wait is multiplied by (1 - jitter × random()), so never later than scheduled. */
  readonly jitter: number;
  readonly retryAfterMaxMs: number;
  /** The longest wait slept in process; a longer one parks the delivery. */
  readonly inProcessMaxMs: number;
}

export type NextStep =
  | { readonly kind: 'final'; readonly reason: 'delivered' | 'permanent' | 'retries_exhausted' }
  | { readonly kind: 'sleep'; readonly delayMs: number }
  | { readonly kind: 'park'; readonly delayMs: number };

/** Attempts a delivery gets in all: the first one plus one per schedule step. */
export function maxAttempts(p: RetryPolicy): number {
  return p.schedule.length + 1;
}

/**
 * Delay before attempt `attempt + 1`, or null when the delivery is over (delivered, permanent, or
 * `attempt` was the last one). Jitter only shortens the wait, so the schedule is a promise of "no later
 * than" while a burst of failures does not retry in lockstep. The schedule is a floor for `Retry-After`:
 * it may lengthen the wait (up to retryAfterMaxMs), never shorten it, so `Retry-After: 0` or a past date
 * cannot turn the schedule into a burst of attempts.
 */
export function nextDelayMs(
  attempt: number,
  outcome: AttemptOutcome,
  p: RetryPolicy,
  random: () => number,
): number | null {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be >= 1, got ${attempt}`);
  if (outcome.kind !== 'retryable' || attempt >= maxAttempts(p)) return null;
  const backoff = Math.round(p.schedule[attempt - 1]! * (1 - p.jitter * random()));
  if (outcome.retryAfterMs === undefined) return backoff;
  return Math.max(backoff, Math.min(outcome.retryAfterMs, p.retryAfterMaxMs));
}

/** What follows attempt `attempt`: the end of the delivery, a wait in process, or parking until the wait ends. */
export function decideNext(
  attempt: number,
  outcome: AttemptOutcome,
  p: RetryPolicy,
  random: () => number,
): NextStep {
  const delayMs = nextDelayMs(attempt, outcome, p, random);
  if (delayMs === null) {
    if (outcome.kind === 'delivered') return { kind: 'final', reason: 'delivered' };
    return { kind: 'final', reason: outcome.kind === 'permanent' ? 'permanent' : 'retries_exhausted' };
  }
  return delayMs > p.inProcessMaxMs ? { kind: 'park', delayMs } : { kind: 'sleep', delayMs };
}

/**
 * The policy cut to its leading steps that are slept in process, for callers that cannot park (the replay
 * command): with the defaults, 2 attempts 5 s apart instead of 8 over a day.
 */
export function inProcessPolicy(p: RetryPolicy): RetryPolicy {
  const n = p.schedule.findIndex((ms) => ms > p.inProcessMaxMs);
  return n === -1 ? p : { ...p, schedule: p.schedule.slice(0, n) };
}

/** The schedule without jitter, for docs and logs: delays before attempts 2..maxAttempts. */
export function retrySchedule(p: RetryPolicy): number[] {
  return [...p.schedule];
}
