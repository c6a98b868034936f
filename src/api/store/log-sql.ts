/**
 * SQL shared by the delivery-log reader and the manual re-sends (schemas/sql/003_delivery_log.sql over
 * 002_parked_deliveries.sql). A delivery is the set of logged attempts sharing a webhook-id; its state is read
 * from its latest attempt and from its webhook_deliveries rows:
 *
 *   pending    a parked row exists (a retry, a spill, a manual re-send: `nextAttemptAt` is its due time),
 *              or the latest attempt was retryable and nothing says the delivery ended
 *   delivered  the latest attempt was 2xx
 *   failed     the latest attempt was permanent (or says retries_exhausted), or a dead row exists
 *
 * The order matters: a re-sent delivery is pending again whatever it was, and a dead letter replayed and
 * delivered later is delivered.
 */

/**
 * The payload of event row `m` (webhook_log_messages): its own column, or the slice of the record's value
 * the writer pointed to (schemas/sql/005_delivery_log_payload_slice.sql).
 */
export const MESSAGE_PAYLOAD = `coalesce(m.payload, substring(m.record_value from m.payload_at + 1 for m.payload_len))`;

/**
 * `a` is the latest attempt of its delivery: no attempt of the same webhook-id is later. Ties on the time
 * (two attempts in the same microsecond) are broken by the attempt number. Served by
 * webhook_log_attempts_webhook_id_idx (a hash index on webhook_id), pruned at run time to the partitions
 * from `a`'s day on.
 */
export const IS_LATEST = `not exists (select 1 from webhook_log_attempts n
    where n.webhook_id = a.webhook_id and n.attempted_at >= a.attempted_at
      and (n.attempted_at > a.attempted_at or n.attempt > a.attempt))`;

/**
 * `w`: the delivery's webhook_deliveries rows that decide its state (parked, dead), one aggregate row; read
 * through the partial indexes on webhook_id (parked: the unique key; dead: webhook_deliveries_dead_webhook_id_idx).
 * event_ref: the newest such row's event, which a re-send reuses.
 */
export const DELIVERY_ROWS = `cross join lateral (
    select max(d.due_at) filter (where d.state = 'parked') as parked_due,
      coalesce(bool_or(d.state = 'dead'), false) as dead,
      (array_agg(d.event_ref order by d.id desc))[1]::text as event_ref,
      (array_agg(d.seq order by d.id desc))[1]::text as seq
    from webhook_deliveries d
    where d.webhook_id = a.webhook_id and d.state in ('parked', 'dead')) w`;

/** The state of `a`'s delivery (`a` its latest attempt, `w` its rows). */
export const STATUS = `case
    when w.parked_due is not null then 'pending'
    when a.result = 'delivered' then 'delivered'
    when a.result = 'permanent' or a.reason = 'retries_exhausted' or w.dead then 'failed'
    else 'pending' end`;

/** A timestamptz as epoch microseconds (text): exact, unlike a JS Date, for keyset cursors. */
export const micros = (column: string): string => `(extract(epoch from ${column}) * 1000000)::bigint::text`;

/** The inverse of `micros` for a parameter. */
export const fromMicros = (param: string): string =>
  `(timestamptz 'epoch' + ${param}::bigint * interval '1 microsecond')`;
