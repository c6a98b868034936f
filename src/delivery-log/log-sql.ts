/**
 * The delivery log's statements (schemas/sql/003_delivery_log.sql). A batch is two binary COPYs in one
 * transaction (the event rows new in the batch, then the attempts), so a batch is written whole or not at
 * all and a retried batch never duplicates its messages. COPY into the partitioned parents routes each row
 * to its day. Binary COPY is what Postgres ingests with the least work: no SQL text, no JSON or escape
 * parsing, bytes sent as they are (the earlier INSERT … json_to_recordset statement cost Postgres about
 * 33 µs per event row; see bench/README.md "Delivery log").
 *
 * An event row does not repeat the payload when its bytes are a slice of the record's value (a JSON record
 * written compactly, the usual case): it stores where they are (payload_at, payload_len) and the payload
 * column is null. Readers take `coalesce(payload, substring(record_value ...))` (MESSAGE_PAYLOAD in
 * src/api/store/log-sql.ts): the same bytes, about 1 KiB less per event to send, log and store.
 */
import { encodeHeaders } from '../parking/pg-delivery-store.js';
import { CopyBinaryEncoder } from './copy-binary.js';
import type { MessageRow, PendingAttempt } from './rows.js';

const ATTEMPT_COLUMNS = 17;
export const COPY_ATTEMPTS = `copy webhook_log_attempts (attempted_at, webhook_id, message_key, subscription_id,
    id_project, subscription_global, event_name, target, attempt, trigger, result, reason, status_code,
    duration_ms, error, response_excerpt, instance) from stdin (format binary)`;

const MESSAGE_COLUMNS = 17;
export const COPY_MESSAGES = `copy webhook_log_messages (logged_at, message_key, event_id, event_name, id_project,
    event_ts, encoding, payload, payload_at, payload_len, topic, partition, record_offset, record_ts, record_key,
    record_value, record_headers) from stdin (format binary)`;

/**
 * Event rows that may be logged already (PendingAttempt `unsure`): copied into a session's staging table,
 * then added where that UTC day has no row of their key. Two instances adding the same key at once may both
 * add it; readers take any copy.
 */
export const STAGE_MESSAGES = `create temp table if not exists webhook_log_messages_in
    (like webhook_log_messages including defaults including compression) on commit delete rows`;
export const COPY_STAGED_MESSAGES = COPY_MESSAGES.replace('webhook_log_messages', 'webhook_log_messages_in');
export const INSERT_STAGED_MESSAGES = `insert into webhook_log_messages
    select i.* from webhook_log_messages_in i
     where not exists (select 1 from webhook_log_messages m
                        where m.message_key = i.message_key
                          and m.logged_at >= date_trunc('day', i.logged_at, 'UTC')
                          and m.logged_at < date_trunc('day', i.logged_at, 'UTC') + interval '24 hours')`;

/** About what an attempt row and an event row take in the COPY input (a first guess for the buffers). */
const ATTEMPT_BYTES = 400;
const MESSAGE_BYTES = 1_600;

/** The encoders a writer reuses batch after batch (copy-binary.ts `reset`). */
export interface BatchEncoders {
  readonly attempts: CopyBinaryEncoder;
  readonly messages: CopyBinaryEncoder;
  readonly unsure: CopyBinaryEncoder;
}

export function newBatchEncoders(batch: number): BatchEncoders {
  return {
    attempts: new CopyBinaryEncoder(64 + batch * ATTEMPT_BYTES),
    messages: new CopyBinaryEncoder(64 + batch * MESSAGE_BYTES),
    unsure: new CopyBinaryEncoder(64 * 1024),
  };
}

/**
 * Where the payload's bytes start in the record's value, or -1 when they are not in it (an Avro record, a
 * JSON record written with spaces or escapes JSON.stringify does not use, an empty payload). Tried first
 * where a Tiledesk event's payload usually is, its last field (one compare, ~0.3 µs for 1 KiB), then
 * searched (~1 µs).
 */
export function payloadOffset(value: Buffer | null, payload: Buffer): number {
  if (value === null || payload.length === 0 || payload.length > value.length) return -1;
  const last = value.length - 1 - payload.length;
  if (last >= 0 && value.compare(payload, 0, payload.length, last, last + payload.length) === 0) return last;
  return value.lastIndexOf(payload);
}

export interface EncodedBatch {
  /** COPY input of the attempts. */
  readonly attempts: Buffer;
  /** COPY input of the event rows; null when the batch has none. */
  readonly messages: Buffer | null;
  readonly messageCount: number;
  /** COPY input of the event rows that may be logged already (STAGE_MESSAGES); null when none. */
  readonly unsure: Buffer | null;
}

/**
 * The batch as binary COPY input for both tables, written into `encoders` (their last inputs are
 * overwritten: the caller writes a batch before it encodes the next).
 */
export function encodeBatch(
  batch: readonly PendingAttempt[],
  instance: string,
  encoders: BatchEncoders,
): EncodedBatch {
  const a = encoders.attempts.reset();
  let m: CopyBinaryEncoder | undefined;
  let u: CopyBinaryEncoder | undefined;
  let messageCount = 0;
  const instanceBytes = Buffer.from(instance, 'utf8');
  for (const p of batch) {
    const r = p.attempt;
    a.row(ATTEMPT_COLUMNS)
      .timestamptzMs(r.attemptedAt)
      .text(r.webhookId)
      .text(r.messageKey)
      .text(r.subscriptionId)
      .text(r.idProject)
      .bool(r.subscriptionGlobal)
      .text(r.eventName)
      .text(r.target)
      .int4(r.attempt)
      .text(r.trigger)
      .text(r.result)
      .text(r.reason)
      .int4(r.statusCode)
      .float8(r.durationMs)
      .text(r.error)
      .text(r.responseExcerpt)
      // The same on every row: its bytes encoded once.
      .bytea(instanceBytes);
    const msg = p.message;
    if (msg === undefined) continue;
    if (p.unsure === true) {
      encodeMessage((u ??= encoders.unsure.reset()), msg);
    } else {
      encodeMessage((m ??= encoders.messages.reset()), msg);
      messageCount++;
    }
  }
  return { attempts: a.finish(), messages: m?.finish() ?? null, messageCount, unsure: u?.finish() ?? null };
}

function encodeMessage(m: CopyBinaryEncoder, msg: MessageRow): void {
  const e = msg.event;
  const rec = msg.record;
  const at = payloadOffset(rec.value, e.payload);
  m.row(MESSAGE_COLUMNS)
    .timestamptzMs(msg.loggedAt)
    .text(msg.messageKey)
    .text(e.id)
    .text(e.event)
    .bytea(e.idProject === null ? null : Buffer.from(e.idProject, 'utf8'))
    .float8(e.timestamp)
    .text(e.encoding)
    .bytea(at < 0 ? e.payload : null)
    .int4(at < 0 ? null : at)
    .int4(at < 0 ? null : e.payload.length)
    .text(rec.topic)
    .int4(rec.partition)
    .int8(rec.offset)
    .text(rec.timestamp)
    .bytea(rec.key)
    .bytea(rec.value)
    .jsonb(encodeHeaders(rec.headers));
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
