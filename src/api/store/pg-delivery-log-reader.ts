/**
 * `DeliveryLogReader` on Postgres: the delivery log (webhook_log_attempts, webhook_log_messages) read with the
 * parked-delivery rows (webhook_deliveries) for each delivery's state (see log-sql.ts). Every query is
 * filtered by the caller's project: the attempts' id_project, which is the subscription's project.
 *
 * deliveries(): the plan walks the subscription's attempts newest first on
 * webhook_log_attempts_subscription_time_idx (id_project, subscription_id, attempted_at), one index scan
 * per day partition in order, bounded by since/until and the cursor, and keeps an attempt when no later
 * attempt of its webhook-id exists (one probe of the webhook_id index each): it reads about as many
 * attempts as the page needs, not the subscription's whole log (a GROUP BY webhook_id over the range would).
 * The planner chooses that walk once the day partitions are analyzed (autovacuum does it) and knows that a
 * subscription belongs to one project (migration 007's statistics); tested in api-store.test.ts.
 * A state or status-class filter is applied to those latest attempts as they come, so a rare state can walk
 * the whole range: the range is what bounds it. Measured on 600k attempts in 15 day partitions (PG 15): a
 * 50-row page read 154 attempts in 22 ms; a state filter matching nothing walked one day (2.6k attempts) in
 * 73 ms. `since` is inclusive, `until` exclusive. The cursor is (last attempt time in microseconds,
 * webhook-id), webhook-ids compared bytewise (collate "C") whatever the database's collation; a cursor that
 * is not one of ours throws InvalidCursorError.
 */
import type { Pool } from 'pg';
import { decodeCursor, encodeCursor } from './cursor.js';
import { DELIVERY_ROWS, fromMicros, IS_LATEST, MESSAGE_PAYLOAD, micros, STATUS } from './log-sql.js';
import type {
  AttemptView,
  DeliveryFilter,
  DeliveryLogReader,
  DeliveryStatus,
  DeliveryView,
  HistoryRow,
} from './types.js';

export const HISTORY_PAGE_SIZE = 40;

/** HistoryRow's additive fields (not in Tiledesk's SubscriptionLog). */
export interface HistoryExtensions {
  readonly webhook_id: string;
  readonly attempt: number;
  readonly status_code: number | null;
  readonly duration_ms: number;
  readonly subscription_id: string;
}

/** On the latest attempt's status code (a column of the `latest` rows). */
const STATUS_CLASS: Readonly<Record<NonNullable<DeliveryFilter['statusClass']>, string>> = {
  '2xx': 'status_code between 200 and 299',
  '3xx': 'status_code between 300 and 399',
  '4xx': 'status_code between 400 and 499',
  '5xx': 'status_code between 500 and 599',
  none: 'status_code is null',
};

/** A delivery's columns from its latest attempt `a` and its rows `w`. */
const DELIVERY_COLUMNS = `a.webhook_id, a.subscription_id, a.id_project, a.event_name, a.attempted_at,
    ${micros('a.attempted_at')} as at_micros, a.status_code, w.parked_due, ${STATUS} as status,
    (select count(*) from webhook_log_attempts c where c.webhook_id = a.webhook_id)::int as attempts,
    coalesce(
      (select m.event_id from webhook_log_messages m where m.message_key = a.message_key limit 1),
      (select e.event_id from webhook_events e where e.id = w.event_ref::bigint), '') as event_id`;

interface DeliveryRow {
  webhook_id: string;
  subscription_id: string;
  id_project: string;
  event_name: string;
  attempted_at: Date;
  at_micros: string;
  status_code: number | null;
  parked_due: Date | null;
  status: DeliveryStatus;
  attempts: number;
  event_id: string;
}

const toDeliveryView = (r: DeliveryRow): DeliveryView => ({
  id: r.webhook_id,
  subscriptionId: r.subscription_id,
  idProject: r.id_project,
  event: r.event_name,
  eventId: r.event_id,
  status: r.status,
  attempts: r.attempts,
  lastAttemptAt: r.attempted_at,
  lastStatusCode: r.status_code,
  nextAttemptAt: r.parked_due,
});

interface AttemptRow {
  attempted_at: Date;
  attempt: number;
  trigger: AttemptView['trigger'];
  result: AttemptView['result'];
  reason: string | null;
  status_code: number | null;
  duration_ms: number;
  error: string | null;
  response_excerpt: string | null;
  instance: string;
  target: string;
}

const toAttemptView = (r: AttemptRow): AttemptView => ({
  attemptedAt: r.attempted_at,
  attempt: r.attempt,
  trigger: r.trigger,
  result: r.result,
  reason: r.reason,
  statusCode: r.status_code,
  durationMs: r.duration_ms,
  error: r.error,
  responseExcerpt: r.response_excerpt,
  instance: r.instance,
  target: r.target,
});

interface HistorySqlRow {
  id: string;
  webhook_id: string;
  subscription_id: string;
  id_project: string;
  event_name: string;
  target: string;
  attempt: number;
  attempted_at: Date;
  status_code: number | null;
  duration_ms: number;
  error: string | null;
  response_excerpt: string | null;
  payload: Buffer | null;
}

/** Tiledesk's `body`: the JSON of the parsed response body; a body that is not JSON, as a JSON string. */
function responseBodyJson(excerpt: string | null): string {
  if (excerpt === null) return '';
  try {
    JSON.parse(excerpt);
    return excerpt;
  } catch {
    return JSON.stringify(excerpt);
  }
}

function toHistoryRow(r: HistorySqlRow): HistoryRow & HistoryExtensions {
  const at = r.attempted_at.toISOString();
  return {
    _id: r.id,
    event: r.event_name,
    target: r.target,
    // Tiledesk dumps the whole response object (headers included, and the request with its secret): here
    // only what the log keeps, the status code and the body's first bytes.
    response: JSON.stringify({ statusCode: r.status_code, body: r.response_excerpt }),
    // The payload JSON as sent, not the whole request body: the body's `hook` is the subscription as it was
    // then and its `token` a JWT signed with the subscription's secret — rebuilding it would mint a
    // credential in a read path, and the hook may have changed since. The payload bytes are exact.
    jsonRequest: r.payload === null ? '' : r.payload.toString('utf8'),
    body: responseBodyJson(r.response_excerpt),
    err: r.error,
    id_project: r.id_project,
    createdAt: at,
    updatedAt: at,
    __v: 0,
    webhook_id: r.webhook_id,
    attempt: r.attempt,
    status_code: r.status_code,
    duration_ms: r.duration_ms,
    subscription_id: r.subscription_id,
  };
}

export function createPgDeliveryLogReader(pool: Pool): DeliveryLogReader {
  return {
    async history(idProject, page, platform = false) {
      // OFFSET paging as Tiledesk's `?page=N`: a deep page reads the pages before it. Served by
      // webhook_log_attempts_subscription_time_idx (id_project, subscription_id, attempted_at): `subs`
      // walks the project's subscriptions in the index (one probe each, so subscriptions deleted since are
      // still found), each gives its newest attempts up to the end of the page, and those are merged. The
      // page first, then its messages: the payloads of the skipped pages are not read.
      const result = await pool.query<HistorySqlRow>(
        `with recursive subs (id) as (
            (select subscription_id from webhook_log_attempts
              where id_project = $1 order by subscription_id limit 1)
            union all
            select (select n.subscription_id from webhook_log_attempts n
                     where n.id_project = $1 and n.subscription_id > subs.id
                     order by n.subscription_id limit 1)
              from subs where subs.id is not null
          )
          select left(md5(a.webhook_id || ':' || a.attempt || ':' || ${micros('a.attempted_at')}), 24) as id,
            a.webhook_id, a.subscription_id, a.id_project, a.event_name, a.target, a.attempt, a.attempted_at,
            a.status_code, a.duration_ms, a.error, a.response_excerpt,
            (select ${MESSAGE_PAYLOAD} from webhook_log_messages m where m.message_key = a.message_key limit 1)
              as payload
          from (select e.* from subs cross join lateral (
                  select * from webhook_log_attempts s
                   where s.id_project = $1 and s.subscription_id = subs.id and (not s.subscription_global or $4)
                   order by s.attempted_at desc, s.webhook_id collate "C" desc, s.attempt desc
                   limit $2::bigint + $3::bigint) e
                where subs.id is not null
                order by e.attempted_at desc, e.webhook_id collate "C" desc, e.attempt desc
                limit $2 offset $3) a
          order by a.attempted_at desc, a.webhook_id collate "C" desc, a.attempt desc`,
        [
          idProject,
          HISTORY_PAGE_SIZE,
          (Number.isSafeInteger(page) && page > 0 ? page : 0) * HISTORY_PAGE_SIZE,
          platform,
        ],
      );
      return result.rows.map(toHistoryRow);
    },

    async deliveries(f: DeliveryFilter) {
      const values: unknown[] = [f.idProject, f.subscriptionId];
      const param = (v: unknown): string => {
        values.push(v);
        return `$${values.length}`;
      };
      // Only the conditions given, as literal index bounds: an `$n is null or ...` would hide them from
      // the planner and the index scan would not be bounded.
      const where = ['a.subscription_id = $2', 'a.id_project = $1'];
      if (f.since !== undefined) where.push(`a.attempted_at >= ${param(f.since)}`);
      if (f.until !== undefined) where.push(`a.attempted_at < ${param(f.until)}`);
      if (f.before !== undefined) {
        const c = decodeCursor(f.before);
        const at = fromMicros(param(c.atMicros));
        const id = param(c.webhookId);
        where.push(
          `a.attempted_at <= ${at}`,
          `(a.attempted_at, a.webhook_id collate "C") < (${at}, ${id}::text collate "C")`,
        );
      }
      where.push(IS_LATEST);
      const outer: string[] = [];
      if (f.status !== undefined) outer.push(`status = ${param(f.status)}`);
      if (f.statusClass !== undefined) outer.push(STATUS_CLASS[f.statusClass]);
      const limit = Math.min(250, Math.max(1, Math.trunc(f.limit)));
      const result = await pool.query<DeliveryRow>(
        `with latest as (
            select ${DELIVERY_COLUMNS}
            from webhook_log_attempts a ${DELIVERY_ROWS}
            where ${where.join(' and ')}
          )
          select * from latest ${outer.length > 0 ? `where ${outer.join(' and ')}` : ''}
          order by attempted_at desc, webhook_id collate "C" desc
          limit ${param(limit + 1)}`,
        values,
      );
      const rows = result.rows.slice(0, limit);
      const last = rows.at(-1);
      const next =
        result.rows.length > limit && last !== undefined
          ? encodeCursor(last.at_micros, last.webhook_id)
          : null;
      return { items: rows.map(toDeliveryView), next };
    },

    async delivery(idProject, webhookId, platform = false) {
      const attempts = await pool.query<AttemptRow>(
        `select attempted_at, attempt, trigger, result, reason, status_code, duration_ms, error,
            response_excerpt, instance, target
          from webhook_log_attempts
          where webhook_id = $1 and id_project = $2 and (not subscription_global or $3)
          order by attempted_at, attempt`,
        [webhookId, idProject, platform],
      );
      if (attempts.rows.length === 0) return undefined;
      const latest = await pool.query<DeliveryRow>(
        `select ${DELIVERY_COLUMNS}
          from webhook_log_attempts a ${DELIVERY_ROWS}
          where a.webhook_id = $1 and a.id_project = $2 and (not a.subscription_global or $3) and ${IS_LATEST}
          order by a.attempted_at desc, a.attempt desc
          limit 1`,
        [webhookId, idProject, platform],
      );
      const row = latest.rows[0];
      if (row === undefined) return undefined; // its partitions were dropped between the two reads
      return { delivery: toDeliveryView(row), attempts: attempts.rows.map(toAttemptView) };
    },
  };
}
