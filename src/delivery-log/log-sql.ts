/**
 * The delivery log's statements (schemas/sql/003_delivery_log.sql). A batch is one statement: the attempts
 * as parallel arrays through unnest, and the batch's new message rows in the same statement (a writable
 * CTE), so a batch is written whole or not at all and a retried batch never duplicates its messages.
 */
import { encodeHeaders } from '../parking/pg-delivery-store.js';
import type { PendingAttempt } from './rows.js';

const ATTEMPTS = `insert into webhook_log_attempts (attempted_at, webhook_id, message_key, subscription_id,
    id_project, event_name, target, attempt, trigger, result, reason, status_code, duration_ms, error,
    response_excerpt, instance)
  select to_timestamp(u.at / 1000.0), u.webhook_id, u.message_key, u.subscription_id, u.id_project,
    u.event_name, u.target, u.attempt, u.trigger, u.result, u.reason, u.status_code, u.duration_ms, u.error,
    u.excerpt, $16::text
  from unnest($1::float8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
    $8::int[], $9::text[], $10::text[], $11::text[], $12::int[], $13::float8[], $14::text[], $15::text[])
    as u(at, webhook_id, message_key, subscription_id, id_project, event_name, target, attempt, trigger,
      result, reason, status_code, duration_ms, error, excerpt)`;

export const INSERT_ATTEMPTS = ATTEMPTS;

export const INSERT_MESSAGES_AND_ATTEMPTS = `with messages as (
    insert into webhook_log_messages (logged_at, message_key, event_id, event_name, id_project, event_ts,
      encoding, payload, topic, partition, record_offset, record_ts, record_key, record_value, record_headers)
    select to_timestamp(m.at / 1000.0), m.message_key, m.event_id, m.event_name, m.id_project, m.event_ts,
      m.encoding, m.payload, m.topic, m.partition, m.record_offset, m.record_ts, m.record_key, m.record_value,
      m.record_headers
    from unnest($17::float8[], $18::text[], $19::text[], $20::text[], $21::bytea[], $22::float8[],
      $23::text[], $24::bytea[], $25::text[], $26::int[], $27::bigint[], $28::text[], $29::bytea[],
      $30::bytea[], $31::jsonb[])
      as m(at, message_key, event_id, event_name, id_project, event_ts, encoding, payload, topic, partition,
        record_offset, record_ts, record_key, record_value, record_headers)
  )
  ${ATTEMPTS}`;

/** The statement and its parameters for one batch; `messages` = how many message rows it writes. */
export function batchStatement(
  batch: readonly PendingAttempt[],
  instance: string,
): { text: string; values: unknown[]; messages: number } {
  const n = batch.length;
  const cols: unknown[][] = Array.from({ length: 15 }, () => new Array<unknown>(n));
  for (let i = 0; i < n; i++) {
    const a = batch[i]!.attempt;
    cols[0]![i] = a.attemptedAt;
    cols[1]![i] = a.webhookId;
    cols[2]![i] = a.messageKey;
    cols[3]![i] = a.subscriptionId;
    cols[4]![i] = a.idProject;
    cols[5]![i] = a.eventName;
    cols[6]![i] = a.target;
    cols[7]![i] = a.attempt;
    cols[8]![i] = a.trigger;
    cols[9]![i] = a.result;
    cols[10]![i] = a.reason;
    cols[11]![i] = a.statusCode;
    cols[12]![i] = a.durationMs;
    cols[13]![i] = a.error;
    cols[14]![i] = a.responseExcerpt;
  }
  const messages = batch.flatMap((p) => (p.message === undefined ? [] : [p.message]));
  if (messages.length === 0) return { text: INSERT_ATTEMPTS, values: [...cols, instance], messages: 0 };
  const m = messages;
  const values = [
    ...cols,
    instance,
    m.map((r) => r.loggedAt),
    m.map((r) => r.messageKey),
    m.map((r) => r.event.id),
    m.map((r) => r.event.event),
    m.map((r) => (r.event.idProject === null ? null : Buffer.from(r.event.idProject, 'utf8'))),
    m.map((r) => r.event.timestamp),
    m.map((r) => r.event.encoding),
    m.map((r) => r.event.payload),
    m.map((r) => r.record.topic),
    m.map((r) => r.record.partition),
    m.map((r) => r.record.offset),
    m.map((r) => r.record.timestamp),
    m.map((r) => r.record.key),
    m.map((r) => r.record.value),
    m.map((r) => encodeHeaders(r.record.headers)),
  ];
  return { text: INSERT_MESSAGES_AND_ATTEMPTS, values, messages: m.length };
}

/** One maintainer at a time per database: concurrent `create table ... partition of` can fail (42P07). */
export const PARTITION_LOCK = `select pg_advisory_xact_lock(hashtext('webhook_log_partitions'))`;
export const ENSURE_PARTITIONS = `select webhook_log_ensure_partitions($1::date, $2::int)`;
export const DROP_PARTITIONS = `select webhook_log_drop_partitions($1::date) as dropped`;

/** Postgres's answer to a row whose day has no partition (SQLSTATE 23514, check_violation). */
export function isMissingPartition(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return e.code === '23514' && /no partition of relation/.test(String(e.message));
}

/** SQLSTATE classes 22 (data exception) and 23 (integrity constraint): the rows, not the database. */
export function isDataError(err: unknown): boolean {
  return /^2[23]/.test(String((err as { code?: unknown }).code ?? ''));
}
