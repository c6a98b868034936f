/**
 * The delivery log's statements (schemas/sql/003_delivery_log.sql). A batch is two binary COPYs in one
 * transaction (the event rows new in the batch, then the attempts), so a batch is written whole or not at
 * all and a retried batch never duplicates its messages. COPY into the partitioned parents routes each row
 * to its day. Binary COPY is what Postgres ingests with the least work: no SQL text, no JSON or escape
 * parsing, bytes sent as they are (the earlier INSERT … json_to_recordset statement cost Postgres about
 * 33 µs per event row; see bench/README.md "Delivery log").
 */
import { encodeHeaders } from '../parking/pg-delivery-store.js';
import { CopyBinaryEncoder } from './copy-binary.js';
import type { PendingAttempt } from './rows.js';

const ATTEMPT_COLUMNS = 17;
export const COPY_ATTEMPTS = `copy webhook_log_attempts (attempted_at, webhook_id, message_key, subscription_id,
    id_project, subscription_global, event_name, target, attempt, trigger, result, reason, status_code,
    duration_ms, error, response_excerpt, instance) from stdin (format binary)`;

const MESSAGE_COLUMNS = 15;
export const COPY_MESSAGES = `copy webhook_log_messages (logged_at, message_key, event_id, event_name, id_project,
    event_ts, encoding, payload, topic, partition, record_offset, record_ts, record_key, record_value,
    record_headers) from stdin (format binary)`;

/** About what an attempt row and an event row take in the COPY input (a first guess for the buffer). */
const ATTEMPT_BYTES = 400;
const MESSAGE_BYTES = 2_600;

export interface EncodedBatch {
  /** COPY input of the attempts. */
  readonly attempts: Buffer;
  /** COPY input of the event rows; null when the batch has none. */
  readonly messages: Buffer | null;
  readonly messageCount: number;
}

/** The batch as binary COPY input for both tables. */
export function encodeBatch(batch: readonly PendingAttempt[], instance: string): EncodedBatch {
  const a = new CopyBinaryEncoder(64 + batch.length * ATTEMPT_BYTES);
  let m: CopyBinaryEncoder | undefined;
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
    m ??= new CopyBinaryEncoder(64 + batch.length * MESSAGE_BYTES);
    messageCount++;
    const e = msg.event;
    const rec = msg.record;
    m.row(MESSAGE_COLUMNS)
      .timestamptzMs(msg.loggedAt)
      .text(msg.messageKey)
      .text(e.id)
      .text(e.event)
      .bytea(e.idProject === null ? null : Buffer.from(e.idProject, 'utf8'))
      .float8(e.timestamp)
      .text(e.encoding)
      .bytea(e.payload)
      .text(rec.topic)
      .int4(rec.partition)
      .int8(rec.offset)
      .text(rec.timestamp)
      .bytea(rec.key)
      .bytea(rec.value)
      .jsonb(encodeHeaders(rec.headers));
  }
  return { attempts: a.finish(), messages: m?.finish() ?? null, messageCount };
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
