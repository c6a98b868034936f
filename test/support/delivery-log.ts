/**
 * Writes delivery-log rows (schemas/sql/003_delivery_log.sql) as the log writer does: a message row per
 * event, an attempt row per attempt, multi-row inserts. For tests of what reads the log:
 *
 *   const m = await logMessage(pool, { eventId: 'e1', idProject: 'P1' });
 *   await logAttempts(pool, [{ message: m, subscriptionId: sub.id, idProject: 'P1', attemptedAt, statusCode: 503 }]);
 *
 * Partitions exist from yesterday to tomorrow after migrate; `ensureLogPartitions` makes others.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { webhookId } from '../../src/delivery/webhook-id.js';

export interface LoggedMessage {
  readonly messageKey: string;
  readonly eventId: string;
  readonly event: string;
  readonly idProject: string;
  readonly payload: Buffer;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly recordValue: Buffer;
  readonly loggedAt: Date;
}

export interface MessageInput {
  readonly eventId: string;
  readonly idProject: string;
  readonly event?: string;
  /** Default `{"id": eventId}`. */
  readonly payload?: Buffer;
  readonly topic?: string;
  readonly partition?: number;
  readonly offset?: string;
  readonly loggedAt?: Date;
}

/** md5 hex of topic, partition, offset, record timestamp and event id (NUL-separated). */
export function fixtureMessageKey(
  topic: string,
  partition: number,
  offset: string,
  recordTs: string,
  eventId: string,
): string {
  return createHash('md5')
    .update(`${topic}\u0000${partition}\u0000${offset}\u0000${recordTs}\u0000${eventId}`)
    .digest('hex');
}

export async function logMessage(pool: pg.Pool, m: MessageInput): Promise<LoggedMessage> {
  const event = m.event ?? 'request.create';
  const payload = m.payload ?? Buffer.from(JSON.stringify({ id: m.eventId }), 'utf8');
  const topic = m.topic ?? 'events';
  const partition = m.partition ?? 0;
  const offset = m.offset ?? '0';
  const loggedAt = m.loggedAt ?? new Date();
  const recordValue = Buffer.from(
    `{"id":${JSON.stringify(m.eventId)},"event":${JSON.stringify(event)},"id_project":${JSON.stringify(m.idProject)},"timestamp":${loggedAt.getTime()},"payload":${payload.toString('utf8')}}`,
    'utf8',
  );
  const recordTs = String(loggedAt.getTime());
  const messageKey = fixtureMessageKey(topic, partition, offset, recordTs, m.eventId);
  await pool.query(
    `insert into webhook_log_messages (logged_at, message_key, event_id, event_name, id_project, event_ts,
        encoding, payload, topic, partition, record_offset, record_ts, record_key, record_value, record_headers)
      values ($1, $2, $3, $4, $5, $6, 'json', $7, $8, $9, $10, $11, $12, $13, $14)`,
    [
      loggedAt,
      messageKey,
      m.eventId,
      event,
      Buffer.from(m.idProject, 'utf8'),
      loggedAt.getTime(),
      payload,
      topic,
      partition,
      offset,
      recordTs,
      Buffer.from(m.idProject, 'utf8'),
      recordValue,
      JSON.stringify({ 'x-trace': [Buffer.from('t1').toString('base64')] }),
    ],
  );
  return {
    messageKey,
    eventId: m.eventId,
    event,
    idProject: m.idProject,
    payload,
    topic,
    partition,
    offset,
    recordValue,
    loggedAt,
  };
}

export interface AttemptInput {
  readonly message: LoggedMessage;
  readonly subscriptionId: string;
  /** The subscription's project (default the message's). */
  readonly idProject?: string;
  /** The subscription is global (default false). */
  readonly global?: boolean;
  readonly attemptedAt: Date;
  /** Default 1. */
  readonly attempt?: number;
  /** Default from the status: 2xx delivered, 4xx (but 408/429) permanent, else retryable. */
  readonly result?: 'delivered' | 'retryable' | 'permanent';
  readonly reason?: string | null;
  readonly statusCode?: number | null;
  readonly error?: string | null;
  readonly responseExcerpt?: string | null;
  readonly trigger?: 'scheduled' | 'manual';
  readonly target?: string;
  readonly durationMs?: number;
}

const resultOf = (status: number | null): 'delivered' | 'retryable' | 'permanent' =>
  status !== null && status >= 200 && status < 300
    ? 'delivered'
    : status !== null && status >= 300 && status < 500 && status !== 408 && status !== 429
      ? 'permanent'
      : 'retryable';

/** Writes the attempts (one statement, as the writer's batches); returns their webhook-ids. */
export async function logAttempts(pool: pg.Pool, attempts: readonly AttemptInput[]): Promise<string[]> {
  const rows = attempts.map((a) => {
    const status = a.statusCode === undefined ? 200 : a.statusCode;
    const result = a.result ?? resultOf(status);
    return {
      at: a.attemptedAt,
      webhookId: webhookId(a.message.eventId, a.subscriptionId),
      messageKey: a.message.messageKey,
      subscriptionId: a.subscriptionId,
      idProject: a.idProject ?? a.message.idProject,
      event: a.message.event,
      target: a.target ?? 'http://127.0.0.1:9/hook',
      attempt: a.attempt ?? 1,
      trigger: a.trigger ?? 'scheduled',
      result,
      reason:
        a.reason === undefined
          ? result === 'delivered'
            ? null
            : status === null
              ? 'network'
              : `http_${Math.floor(status / 100)}xx`
          : a.reason,
      status,
      durationMs: a.durationMs ?? 12.5,
      error: a.error === undefined ? (status === null ? 'ECONNREFUSED' : null) : a.error,
      excerpt: a.responseExcerpt === undefined ? (status === null ? null : '{"ok":true}') : a.responseExcerpt,
      global: a.global ?? false,
    };
  });
  await pool.query(
    `insert into webhook_log_attempts (attempted_at, webhook_id, message_key, subscription_id, id_project,
        event_name, target, attempt, trigger, result, reason, status_code, duration_ms, error, response_excerpt,
        subscription_global, instance)
      select u.*, 'test-host:1:abc' from unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[],
        $6::text[], $7::text[], $8::int[], $9::text[], $10::text[], $11::text[], $12::int[], $13::float8[],
        $14::text[], $15::text[], $16::boolean[]) as u`,
    [
      rows.map((r) => r.at),
      rows.map((r) => r.webhookId),
      rows.map((r) => r.messageKey),
      rows.map((r) => r.subscriptionId),
      rows.map((r) => r.idProject),
      rows.map((r) => r.event),
      rows.map((r) => r.target),
      rows.map((r) => r.attempt),
      rows.map((r) => r.trigger),
      rows.map((r) => r.result),
      rows.map((r) => r.reason),
      rows.map((r) => r.status),
      rows.map((r) => r.durationMs),
      rows.map((r) => r.error),
      rows.map((r) => r.excerpt),
      rows.map((r) => r.global),
    ],
  );
  return rows.map((r) => r.webhookId);
}

/** Daily partitions of both log tables from `from`'s UTC day, for `days` days. */
export async function ensureLogPartitions(pool: pg.Pool, from: Date, days: number): Promise<void> {
  await pool.query('select webhook_log_ensure_partitions($1::date, $2)', [
    from.toISOString().slice(0, 10),
    days,
  ]);
}
