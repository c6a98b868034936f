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
import type { AttemptRow, MessageRow } from './rows.js';

const ATTEMPT_COLUMNS = 17;
export const COPY_ATTEMPTS = `copy webhook_log_attempts (attempted_at, webhook_id, message_key, subscription_id,
    id_project, subscription_global, event_name, target, attempt, trigger, result, reason, status_code,
    duration_ms, error, response_excerpt, instance) from stdin (format binary)`;

const MESSAGE_COLUMNS = 17;
export const COPY_MESSAGES = `copy webhook_log_messages (logged_at, message_key, event_id, event_name, id_project,
    event_ts, encoding, payload, payload_at, payload_len, topic, partition, record_offset, record_ts, record_key,
    record_value, record_headers) from stdin (format binary)`;

/**
 * Event rows that may be logged already (`unsure`, pending.ts): copied into a session's staging table,
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
const MS_PER_DAY = 86_400_000;

/** A batch's COPY inputs, complete (header, rows, trailer). */
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
 * One batch of the log, encoded as its rows are added: an attempt becomes COPY bytes when it is recorded,
 * so nothing of it (row object, event, Kafka record) is kept alive until the write. Objects held for a
 * flush interval outlive V8's young generation at thousands of attempts a second and are copied into the
 * old one, whose collections the delivery thread pays for (bench/README.md "Delivery log").
 *
 * Lifecycle: open (`add`) → sealed (`seal`, its inputs fixed; written, retried as they are after a failed
 * write) → `reset` for reuse, only when every write of it succeeded (a failed COPY's socket write may still
 * reference its Buffers).
 */
export class LogBatch {
  private readonly attempts: CopyBinaryEncoder;
  private readonly messages: CopyBinaryEncoder;
  private readonly unsure: CopyBinaryEncoder;
  /** Attempts in the batch. */
  rows = 0;
  private messageCount = 0;
  private unsureCount = 0;
  /** One attempt time (epoch ms) per UTC day the batch has rows of: the partitions it needs. */
  readonly days: number[] = [];
  private lastDay = Number.NaN;
  private encoded: EncodedBatch | undefined;
  /** A write of this batch failed: its Buffers are not reused. */
  failed = false;

  constructor(batch: number) {
    this.attempts = new CopyBinaryEncoder(64 + batch * ATTEMPT_BYTES);
    this.messages = new CopyBinaryEncoder(64 + batch * MESSAGE_BYTES);
    this.unsure = new CopyBinaryEncoder(64 * 1024);
  }

  /** Bytes of memory its encoders hold. */
  get capacity(): number {
    return this.attempts.capacity + this.messages.capacity + this.unsure.capacity;
  }

  /** Empties the batch into the same memory. */
  reset(): this {
    this.attempts.reset();
    this.messages.reset();
    this.unsure.reset();
    this.rows = this.messageCount = this.unsureCount = 0;
    this.days.length = 0;
    this.lastDay = Number.NaN;
    this.encoded = undefined;
    this.failed = false;
    return this;
  }

  /**
   * Adds an attempt, with its event's row when given (`unsure`: that row may be logged already). `instance`:
   * the writer's instance as UTF-8 (the same on every row, encoded once).
   */
  add(r: AttemptRow, message: MessageRow | undefined, unsure: boolean, instance: Buffer): void {
    if (this.encoded !== undefined) throw new Error('delivery log: a sealed batch takes no rows');
    this.attempts
      .row(ATTEMPT_COLUMNS)
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
      .bytea(instance);
    this.rows++;
    const day = Math.floor(r.attemptedAt / MS_PER_DAY);
    if (day !== this.lastDay) {
      this.lastDay = day;
      if (!this.days.some((t) => Math.floor(t / MS_PER_DAY) === day)) this.days.push(r.attemptedAt);
    }
    if (message === undefined) return;
    if (unsure) {
      encodeMessage(this.unsure, message);
      this.unsureCount++;
    } else {
      encodeMessage(this.messages, message);
      this.messageCount++;
    }
  }

  /** Its COPY inputs, complete; the batch takes no more rows. The same inputs on every call. */
  seal(): EncodedBatch {
    this.encoded ??= {
      attempts: this.attempts.finish(),
      messages: this.messageCount > 0 ? this.messages.finish() : null,
      messageCount: this.messageCount,
      unsure: this.unsureCount > 0 ? this.unsure.finish() : null,
    };
    return this.encoded;
  }
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

function encodeMessage(m: CopyBinaryEncoder, msg: MessageRow): void {
  const e = msg.event;
  const rec = msg.record;
  const at = payloadOffset(rec.value, e.payload);
  m.row(MESSAGE_COLUMNS)
    .timestamptzMs(msg.loggedAt)
    .text(msg.messageKey)
    .text(e.id)
    .text(e.event)
    .utf8Bytea(e.idProject)
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
