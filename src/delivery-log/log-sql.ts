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

/**
 * The byte columns of a batch's messages (id_project, payload, record key and value) travel as one
 * Buffer parameter, which node-postgres sends in binary, cut by offset and length in SQL (a length of -1
 * is null). As bytea[] they would go as hex text: twice the bytes to send, and to encode in the
 * connector and to parse in Postgres (the benchmark's fan-out-1 run spent most of the log's cost there).
 */
const bytesAt = (field: string): string =>
  `case when m.${field}_len < 0 then null else substring($27::bytea from m.${field}_off + 1 for m.${field}_len) end`;

export const INSERT_MESSAGES_AND_ATTEMPTS = `with messages as (
    insert into webhook_log_messages (logged_at, message_key, event_id, event_name, id_project, event_ts,
      encoding, payload, topic, partition, record_offset, record_ts, record_key, record_value, record_headers)
    select to_timestamp(m.at / 1000.0), m.message_key, m.event_id, m.event_name, ${bytesAt('project')},
      m.event_ts, m.encoding, ${bytesAt('payload')}, m.topic, m.partition, m.record_offset, m.record_ts,
      ${bytesAt('key')}, ${bytesAt('value')}, m.record_headers
    from unnest($17::float8[], $18::text[], $19::text[], $20::text[], $21::float8[], $22::text[],
      $23::text[], $24::int[], $25::bigint[], $26::text[], $28::int[], $29::int[], $30::int[], $31::int[],
      $32::int[], $33::int[], $34::int[], $35::int[], $36::jsonb[])
      as m(at, message_key, event_id, event_name, event_ts, encoding, topic, partition, record_offset,
        record_ts, project_off, project_len, payload_off, payload_len, key_off, key_len, value_off, value_len,
        record_headers)
  )
  ${ATTEMPTS}`;

/** Appends byte fields to one buffer, remembering where each is (offset, length; -1 = null). */
class ByteColumns {
  readonly parts: Buffer[] = [];
  size = 0;

  field(): { off: number[]; len: number[]; add: (b: Buffer | null) => void } {
    const off: number[] = [];
    const len: number[] = [];
    return {
      off,
      len,
      add: (b) => {
        off.push(this.size);
        len.push(b === null ? -1 : b.length);
        if (b !== null && b.length > 0) {
          this.parts.push(b);
          this.size += b.length;
        }
      },
    };
  }
}

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
  const m = batch.flatMap((p) => (p.message === undefined ? [] : [p.message]));
  if (m.length === 0) return { text: INSERT_ATTEMPTS, values: [...cols, instance], messages: 0 };
  const bytes = new ByteColumns();
  const project = bytes.field();
  const payload = bytes.field();
  const key = bytes.field();
  const value = bytes.field();
  for (const r of m) {
    project.add(r.event.idProject === null ? null : Buffer.from(r.event.idProject, 'utf8'));
    payload.add(r.event.payload);
    key.add(r.record.key);
    value.add(r.record.value);
  }
  const values = [
    ...cols,
    instance,
    m.map((r) => r.loggedAt),
    m.map((r) => r.messageKey),
    m.map((r) => r.event.id),
    m.map((r) => r.event.event),
    m.map((r) => r.event.timestamp),
    m.map((r) => r.event.encoding),
    m.map((r) => r.record.topic),
    m.map((r) => r.record.partition),
    m.map((r) => r.record.offset),
    m.map((r) => r.record.timestamp),
    Buffer.concat(bytes.parts, bytes.size),
    project.off,
    project.len,
    payload.off,
    payload.len,
    key.off,
    key.len,
    value.off,
    value.len,
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
