/**
 * The delivery log's rows as values, and how an observed attempt becomes one (pure). Texts from receivers
 * and sockets (error, response excerpt) may hold anything: invalid UTF-8 becomes U+FFFD, and so does NUL,
 * which Postgres text refuses (a refused row would fail its whole batch).
 */
import type { InboundRecord, TiledeskEvent } from '../events/event.js';
import type { AttemptOutcome } from '../delivery/classify.js';
import type { AttemptContext } from '../delivery/deliver.js';
import type { Subscription } from '../subscriptions/types.js';
import type { TransportResult } from '../transport/types.js';
import { messageKey } from './message-key.js';

/** What is logged: every attempt (`all`), attempts without a 2xx answer (`failures`), nothing (`off`). */
export type DeliveryLogMode = 'all' | 'failures' | 'off';

export interface AttemptRow {
  /** Epoch ms. */
  readonly attemptedAt: number;
  readonly webhookId: string;
  readonly messageKey: string;
  readonly subscriptionId: string;
  readonly idProject: string;
  readonly subscriptionGlobal: boolean;
  readonly eventName: string;
  readonly target: string;
  readonly attempt: number;
  readonly trigger: 'scheduled' | 'manual';
  readonly result: 'delivered' | 'retryable' | 'permanent';
  readonly reason: string | null;
  readonly statusCode: number | null;
  readonly durationMs: number;
  readonly error: string | null;
  readonly responseExcerpt: string | null;
  readonly instance: string;
}

export interface MessageRow {
  /** Epoch ms: its first attempt's time (same day partition). */
  readonly loggedAt: number;
  readonly messageKey: string;
  readonly event: TiledeskEvent;
  readonly record: InboundRecord;
}

/** Whether `mode` logs an attempt with this outcome. */
export function logsAttempt(mode: DeliveryLogMode, outcome: AttemptOutcome): boolean {
  return mode === 'all' || (mode === 'failures' && outcome.kind !== 'delivered');
}

/** Text safe for a Postgres text column: invalid UTF-8 and NUL as U+FFFD. */
export function safeText(bytes: Buffer): string {
  if (bytes.length === 0) return '';
  const s = bytes.toString('utf8');
  return s.includes('\u0000') ? s.replaceAll('\u0000', '\ufffd') : s;
}

/** The attempt's row; undefined when the delivery's record is unknown (nothing to join it to). */
export function attemptRow(
  outcome: AttemptOutcome,
  result: TransportResult,
  attempt: number,
  sub: Subscription,
  context: AttemptContext,
  instance: string,
): AttemptRow | undefined {
  if (context.origin === undefined) return undefined;
  const error = outcome.kind === 'delivered' ? undefined : outcome.error;
  return {
    attemptedAt: context.sentAt,
    webhookId: context.webhookId,
    messageKey: messageKey(context.origin.record, context.event),
    subscriptionId: sub.id,
    idProject: sub.idProject,
    subscriptionGlobal: sub.global,
    eventName: context.event.event,
    target: sub.target,
    attempt,
    trigger: context.origin.trigger,
    result: outcome.kind,
    // The last attempt of a delivery whose retries ran out says so: the log's reader counts it as failed.
    reason: outcome.kind === 'delivered' ? null : context.exhausted ? 'retries_exhausted' : outcome.reason,
    statusCode: result.kind === 'response' ? result.status : null,
    durationMs: result.durationMs,
    error: error === undefined ? null : error.replaceAll('\u0000', '\ufffd'),
    // A logged answer is excerpted (the transport's excerpt mode follows the log's): none = an empty body.
    responseExcerpt: result.kind === 'response' ? (result.excerpt ? safeText(result.excerpt) : '') : null,
    instance,
  };
}

export function messageRow(attempt: AttemptRow, context: AttemptContext): MessageRow {
  return {
    loggedAt: attempt.attemptedAt,
    messageKey: attempt.messageKey,
    event: context.event,
    record: context.origin!.record,
  };
}
