/**
 * Endpoint health per subscription, shared by every instance through `webhook_subscription_health`.
 * `record` (every attempt) only updates memory: per subscription the last 2xx, the first failure since
 * then and the last failure. `flush` merges that into the table in one statement; `sweep` then disables
 * (reason 'failing') every enabled subscription with no 2xx since a failure older than `disableAfterMs`.
 * A 410 disables its subscription at once (reason 'gone'), without waiting for a flush.
 *
 * Guarantees: a subscription is disabled once however many instances sweep (`where enabled ... returning`
 * under the row lock); Postgres down loses nothing (the buffer stays in memory, merged with what comes
 * next, and is written on a later flush) and throws nothing; a subscription re-enabled by an operator is
 * not disabled again by failures from before its disable: the disable resets its health row in the same
 * statement, failures recorded before it are dropped here, and the flush ignores, from any instance,
 * failures of a disabled subscription or older than its `disabled_at`.
 *
 * Times are epoch ms from the injected clock; `disabled_at` is the database's `now()`.
 *
 * Just past 300 lines: the SQL and the buffer it merges change together.
 */
import type { Pool } from 'pg';
import type { Logger } from '../logger.js';

export type DisableReason = 'gone' | 'failing';

export interface EndpointHealthOptions {
  readonly pool: Pool;
  readonly now: () => number;
  /** No 2xx for this long after a failure disables the subscription (SUBSCRIPTION_DISABLE_AFTER_MS). */
  readonly disableAfterMs: number;
  /** Default 5000. */
  readonly flushIntervalMs?: number;
  readonly logger: Logger;
  /** Called once per subscription this instance disabled (another instance's disables are not reported). */
  readonly onDisabled?: (subscriptionId: string, reason: DisableReason) => void;
}

export interface EndpointHealth {
  /** An attempt's outcome: `ok` = 2xx. Synchronous, memory only; a 410 starts the immediate disable. */
  record(subscriptionId: string, ok: boolean, status?: number): void;
  /** Flushes then sweeps every `flushIntervalMs`. */
  start(): void;
  /** Stops the timer and flushes what is buffered (never rejects). */
  stop(): Promise<void>;
  /** Writes the buffer to Postgres; on failure keeps it for the next flush (never rejects). */
  flush(): Promise<void>;
  /** Disables the subscriptions failing for longer than `disableAfterMs`; returns their ids (never rejects). */
  sweep(): Promise<string[]>;
}

/** What one instance saw since its last successful flush. */
export interface Seen {
  lastSuccess: number | null;
  /** First failure after `lastSuccess` (null: none, or healthy since). */
  failingSince: number | null;
  lastFailure: number | null;
}

/**
 * The attempts that finish after a 410 disabled a subscription (in flight before the snapshot dropped it)
 * answer 410 too: for this long they do not start another disable. Longer than any attempt can run.
 */
const GONE_REPEAT_MS = 120_000;

const max = (a: number | null, b: number | null): number | null =>
  a === null ? b : b === null ? a : Math.max(a, b);

/** `newer` seen after `older`: the state as if both had been recorded in one buffer. */
export function mergeSeen(older: Seen, newer: Seen): Seen {
  return {
    lastSuccess: max(older.lastSuccess, newer.lastSuccess),
    // A success in `newer` ends every failure of `older`; without one, `older`'s failing run goes on.
    failingSince:
      newer.lastSuccess !== null ? newer.failingSince : (older.failingSince ?? newer.failingSince),
    lastFailure: max(older.lastFailure, newer.lastFailure),
  };
}

const ts = (param: string): string => `to_timestamp(${param} / 1000.0)`;

/**
 * One upsert for the whole buffer. `failing_since` is the first failure after the newest success known
 * to anyone, the earlier of the stored run's and the buffer's: each is its first failure if after that
 * success, else its last failure if after it (the run started somewhere in between; the later bound never
 * disables early), else none.
 * Failures of a disabled subscription, or from before its last disable, do not start a failing run.
 */
const FLUSH_SQL = `
with seen as (
  select i.id, ${ts('i.success')} as success, ${ts('i.failing')} as failing, ${ts('i.failure')} as failure,
         s.enabled, coalesce(s.disabled_at, '-infinity') as disabled_at
  from unnest($1::text[], $2::float8[], $3::float8[], $4::float8[]) as i(id, success, failing, failure)
  join webhook_subscriptions s on s.id = i.id
), counted as (
  select id, success, failure,
         case when not enabled then null
              when failing > disabled_at then failing
              when failure > disabled_at then failure end as failing
  from seen
)
insert into webhook_subscription_health as h (subscription_id, failing_since, last_success_at, last_failure_at)
select id,
       case when failing > coalesce(success, '-infinity') then failing
            when failing is not null and failure > coalesce(success, '-infinity') then failure end,
       success, failure
from counted
on conflict (subscription_id) do update set
  failing_since = least(
    case when h.failing_since > coalesce(greatest(h.last_success_at, excluded.last_success_at), '-infinity')
         then h.failing_since
         when h.failing_since is not null
          and h.last_failure_at > coalesce(greatest(h.last_success_at, excluded.last_success_at), '-infinity')
         then h.last_failure_at end,
    case when excluded.failing_since > coalesce(greatest(h.last_success_at, excluded.last_success_at), '-infinity')
         then excluded.failing_since
         when excluded.failing_since is not null
          and excluded.last_failure_at > coalesce(greatest(h.last_success_at, excluded.last_success_at), '-infinity')
         then excluded.last_failure_at end),
  last_success_at = greatest(h.last_success_at, excluded.last_success_at),
  last_failure_at = greatest(h.last_failure_at, excluded.last_failure_at),
  updated_at = now()`;

/**
 * Disables, once, and resets the health rows of what it disabled, in the same statement; its parked
 * deliveries become due at once, so a runner dead-letters them now (reason `subscription_disabled`)
 * rather than at their next attempt, hours away.
 */
const DISABLE_SQL = (which: string): string => `
with disabled as (
  update webhook_subscriptions
  set enabled = false, disabled_reason = $2, disabled_at = now()
  where id = any(${which}) and enabled
  returning id
), reset as (
  update webhook_subscription_health h set failing_since = null, updated_at = now()
  from disabled d where h.subscription_id = d.id
), due as (
  update webhook_deliveries w set due_at = now()
  from disabled d where w.subscription_id = d.id and w.state = 'parked' and w.due_at > now()
)
select id from disabled`;

const DISABLE_IDS_SQL = DISABLE_SQL('$1::text[]');

const DISABLE_FAILING_SQL = DISABLE_SQL(`array(
  select h.subscription_id
  from webhook_subscription_health h
  join webhook_subscriptions s on s.id = h.subscription_id
  where s.enabled
    and h.failing_since < ${ts('$1::float8')}
    and (h.last_success_at is null or h.last_success_at <= h.failing_since)
    and (s.disabled_at is null or h.failing_since > s.disabled_at))`);

export function createEndpointHealth(opts: EndpointHealthOptions): EndpointHealth {
  const { pool, now, disableAfterMs, logger } = opts;
  const flushIntervalMs = opts.flushIntervalMs ?? 5_000;
  let buffer = new Map<string, Seen>();
  /** Subscriptions this instance disabled, with when: failures recorded before are not counted. */
  const disabledAt = new Map<string, number>();
  const goneQueue = new Set<string>();
  const goneInFlight = new Set<string>();
  const goneAt = new Map<string, number>();
  let goneRunning: Promise<void> | null = null;
  let flushChain: Promise<void> = Promise.resolve();
  let tickRunning: Promise<void> | null = null;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  let dbDown = false;

  function dbFailed(what: string, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    if (!dbDown) {
      logger.warn({ err: { message } }, `endpoint health: ${what} failed; kept in memory, retried`);
    } else logger.debug({ err: { message } }, `endpoint health: ${what} failed again`);
    dbDown = true;
  }

  function dbOk(): void {
    if (dbDown) logger.info('endpoint health: postgres reachable again');
    dbDown = false;
  }

  function markDisabled(ids: readonly string[], reason: DisableReason): void {
    const t = now();
    for (const id of ids) {
      disabledAt.set(id, t);
      buffer.delete(id);
      logger.warn({ subscriptionId: id, reason }, 'subscription disabled');
      try {
        opts.onDisabled?.(id, reason);
      } catch (err) {
        // A throwing callback must not undo the bookkeeping nor reject the 410 path (unhandled).
        logger.error({ err, subscriptionId: id }, 'endpoint health: onDisabled threw');
      }
    }
  }

  async function disableIds(ids: readonly string[], reason: DisableReason): Promise<string[]> {
    const result = await pool.query<{ id: string }>(DISABLE_IDS_SQL, [ids, reason]);
    return result.rows.map((r) => r.id);
  }

  function disableGone(): Promise<void> {
    goneRunning ??= (async () => {
      try {
        while (goneQueue.size > 0) {
          const ids = [...goneQueue];
          goneQueue.clear();
          for (const id of ids) goneInFlight.add(id);
          let disabled: string[];
          try {
            disabled = await disableIds(ids, 'gone');
            dbOk();
          } catch (err) {
            for (const id of ids) goneQueue.add(id); // the next flush tries again
            dbFailed('disable (410 Gone)', err);
            return;
          } finally {
            goneInFlight.clear();
          }
          const t = now();
          for (const id of ids) goneAt.set(id, t);
          markDisabled(disabled, 'gone');
        }
      } finally {
        goneRunning = null;
      }
    })();
    return goneRunning;
  }

  function record(subscriptionId: string, ok: boolean, status?: number): void {
    const t = now();
    let seen = buffer.get(subscriptionId);
    if (seen === undefined) {
      seen = { lastSuccess: null, failingSince: null, lastFailure: null };
      buffer.set(subscriptionId, seen);
    }
    if (ok) {
      seen.lastSuccess = t;
      seen.failingSince = null;
      goneAt.delete(subscriptionId);
      return;
    }
    seen.failingSince ??= t;
    seen.lastFailure = t;
    if (status === 410 && !goneQueue.has(subscriptionId) && !goneInFlight.has(subscriptionId)) {
      const last = goneAt.get(subscriptionId);
      if (last !== undefined && t - last < GONE_REPEAT_MS) return;
      goneQueue.add(subscriptionId);
      void disableGone();
    }
  }

  async function flushOnce(): Promise<void> {
    // A 410's disable started by `record` may still be in flight, and fail (Postgres down when it
    // started): wait for it, so that what it puts back in the queue is tried by this flush, not the next.
    if (goneRunning !== null) await goneRunning;
    if (goneQueue.size > 0) await disableGone();
    if (buffer.size === 0) return;
    const batch = buffer;
    buffer = new Map();
    const disabledBefore = new Map(disabledAt);
    const ids: string[] = [];
    const successes: (number | null)[] = [];
    const failings: (number | null)[] = [];
    const failures: (number | null)[] = [];
    for (const [id, seen] of batch) {
      const disabled = disabledAt.get(id);
      let failing = seen.failingSince;
      if (disabled !== undefined && failing !== null && failing <= disabled) {
        failing = seen.lastFailure !== null && seen.lastFailure > disabled ? seen.lastFailure : null;
      }
      ids.push(id);
      successes.push(seen.lastSuccess);
      failings.push(failing);
      failures.push(seen.lastFailure);
    }
    try {
      await pool.query(FLUSH_SQL, [ids, successes, failings, failures]);
      dbOk();
    } catch (err) {
      for (const [id, older] of batch) {
        const newer = buffer.get(id);
        buffer.set(id, newer === undefined ? older : mergeSeen(older, newer));
      }
      dbFailed('flush', err);
      return;
    }
    // Everything recorded before these disables is written (filtered): the marks have done their work.
    for (const [id, t] of disabledBefore) if (disabledAt.get(id) === t) disabledAt.delete(id);
  }

  function flush(): Promise<void> {
    flushChain = flushChain.then(flushOnce, flushOnce);
    return flushChain;
  }

  async function sweep(): Promise<string[]> {
    let disabled: string[];
    try {
      const result = await pool.query<{ id: string }>(DISABLE_FAILING_SQL, [
        now() - disableAfterMs,
        'failing',
      ]);
      disabled = result.rows.map((r) => r.id);
      dbOk();
    } catch (err) {
      dbFailed('sweep', err);
      return [];
    }
    markDisabled(disabled, 'failing');
    return disabled;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      tickRunning = (async () => {
        await flush();
        await sweep();
      })().finally(() => {
        tickRunning = null;
        schedule();
      });
    }, flushIntervalMs);
  }

  return {
    record,
    flush,
    sweep,
    start() {
      if (timer !== null || stopped) return;
      schedule();
    },
    async stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      await tickRunning;
      await flush();
    },
  };
}
