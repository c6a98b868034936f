/** Exponential backoff with jitter and a cap; `Retry-After` lengthens it up to its own cap. Pure. */
import type { AttemptOutcome } from './classify.js';

export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly initialDelayMs: number;
  readonly multiplier: number;
  readonly maxDelayMs: number;
  readonly retryAfterMaxMs: number;
}

/**
 * Delay before attempt `attempt + 1`, or null when the delivery is over (delivered, permanent, or
 * `attempt` was the last one). Jitter spreads the computed delay over [50%, 100%] ("equal jitter"), so a
 * burst of failures does not retry in lockstep while the schedule stays predictable. The backoff is a
 * floor: `Retry-After` may lengthen the wait (up to retryAfterMaxMs), never shorten it, so a receiver
 * answering `Retry-After: 0` or a past date cannot turn the schedule into a burst of attempts.
 */
export function nextDelayMs(
  attempt: number,
  outcome: AttemptOutcome,
  p: RetryPolicy,
  random: () => number,
): number | null {
  if (outcome.kind !== 'retryable' || attempt >= p.maxAttempts) return null;
  const base = Math.min(p.initialDelayMs * p.multiplier ** (attempt - 1), p.maxDelayMs);
  const backoff = Math.round(base * (0.5 + random() / 2));
  if (outcome.retryAfterMs === undefined) return backoff;
  return Math.max(backoff, Math.min(outcome.retryAfterMs, p.retryAfterMaxMs));
}

/** The schedule without jitter, for docs and logs: delays before attempts 2..maxAttempts. */
export function retrySchedule(p: RetryPolicy): number[] {
  const out: number[] = [];
  for (let a = 1; a < p.maxAttempts; a++) {
    out.push(Math.min(p.initialDelayMs * p.multiplier ** (a - 1), p.maxDelayMs));
  }
  return out;
}
