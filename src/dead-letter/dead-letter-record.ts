/**
 * The dead-letter record: the original key and value unchanged, the original headers kept, plus `dlq-*`
 * headers that say why, for whom and when. Pure; the producer writes it. Header values never contain
 * the subscription secret.
 */
import type { InboundRecord } from '../events/event.js';

export interface DeadLetterInfo {
  readonly reason: string;
  readonly error?: string;
  readonly eventId?: string;
  readonly event?: string;
  readonly subscriptionId?: string;
  readonly target?: string;
  readonly webhookId?: string;
  readonly attempts?: number;
  readonly lastStatus?: number;
  readonly firstAttemptAt?: number;
  readonly lastAttemptAt?: number;
}

export interface DeadLetterRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Record<string, Buffer | string | (Buffer | string)[]>;
}

export const DLQ_HEADER_PREFIX = 'dlq-';

/** Names of the headers this service adds (README documents each). */
export const dlqHeaders = {
  'dlq-reason':
    'Why: a delivery reason (http_4xx, retries_exhausted, ssrf, ...) or a poison reason (invalid, undecodable, empty, ...); every reason is in the table below.',
  'dlq-error': 'Last error or status text, truncated to 500 characters.',
  'dlq-event': 'Event name, when the record decoded.',
  'dlq-event-id': 'Event id (producer-given or derived), when the record decoded.',
  'dlq-subscription-id': 'Subscription the delivery was for (absent for poison records).',
  'dlq-target': 'Target URL at the time of the failure.',
  'dlq-webhook-id': 'The webhook-id the receiver saw (idempotency key).',
  'dlq-attempts': 'Attempts made.',
  'dlq-last-status': 'HTTP status of the last attempt, if it got one.',
  'dlq-first-attempt-at': 'First attempt time, ISO 8601.',
  'dlq-last-attempt-at': 'Last attempt time, ISO 8601.',
  'dlq-original-topic': 'Topic of the original record.',
  'dlq-original-partition': 'Partition of the original record.',
  'dlq-original-offset': 'Offset of the original record.',
  'dlq-original-timestamp': 'Timestamp of the original record (epoch ms).',
  'dlq-value-omitted':
    'Only when the original value did not fit the dead-letter topic: its size in bytes (the value is then null; find the original by topic/partition/offset).',
} as const;

const iso = (ms: number | undefined): string | undefined =>
  ms === undefined ? undefined : new Date(ms).toISOString();

export function buildDeadLetterRecord(original: InboundRecord, info: DeadLetterInfo): DeadLetterRecord {
  const headers: Record<string, Buffer | string | (Buffer | string)[]> = {};
  for (const [name, value] of Object.entries(original.headers)) {
    // A record dead-lettered twice (e.g. a failed replay) must not carry two sets of dlq headers.
    if (value !== undefined && !name.startsWith(DLQ_HEADER_PREFIX)) headers[name] = value;
  }
  const add = (name: keyof typeof dlqHeaders, value: string | number | undefined): void => {
    if (value !== undefined) headers[name] = String(value);
  };
  add('dlq-reason', info.reason);
  add('dlq-error', info.error?.slice(0, 500));
  add('dlq-event', info.event);
  add('dlq-event-id', info.eventId);
  add('dlq-subscription-id', info.subscriptionId);
  add('dlq-target', info.target);
  add('dlq-webhook-id', info.webhookId);
  add('dlq-attempts', info.attempts);
  add('dlq-last-status', info.lastStatus);
  add('dlq-first-attempt-at', iso(info.firstAttemptAt));
  add('dlq-last-attempt-at', iso(info.lastAttemptAt));
  add('dlq-original-topic', original.topic);
  add('dlq-original-partition', original.partition);
  add('dlq-original-offset', original.offset);
  add('dlq-original-timestamp', original.timestamp);
  return { key: original.key, value: original.value, headers };
}

/** Reads a header of a consumed record as a string. */
export function headerString(headers: InboundRecord['headers'], name: string): string | undefined {
  const v = headers[name];
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined ? undefined : one.toString();
}
