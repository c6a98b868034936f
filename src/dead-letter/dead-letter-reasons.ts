/**
 * Every value of the `dlq-reason` header: what it means, and the error code the `dead-lettered` log line
 * carries. README renders this table; a unit test checks that every reason the code can produce is here.
 */
import type { DeliveryReason } from '../delivery/deliver.js';
import type { PoisonReason } from '../events/decode-record.js';
import { ErrorCode } from '../errors.js';

/** The delivery reasons that end a delivery: the permanent ones, and retries used up. */
export type DeadLetteredDeliveryReason = Extract<
  DeliveryReason,
  | 'http_3xx'
  | 'http_4xx'
  | 'ssrf'
  | 'invalid_target'
  | 'retries_exhausted'
  | 'subscription_invalid'
  | 'subscription_deleted'
  | 'subscription_disabled'
>;

export type DeadLetterReason = PoisonReason | DeadLetteredDeliveryReason;

export interface ReasonDoc {
  readonly code: ErrorCode;
  readonly doc: string;
}

export const deadLetterReasonDocs: Readonly<Record<DeadLetterReason, ReasonDoc>> = {
  empty: {
    code: ErrorCode.EVENT_UNDECODABLE,
    doc: 'The record has no value (null, e.g. a tombstone).',
  },
  too_large: {
    code: ErrorCode.EVENT_TOO_LARGE,
    doc: 'The value is larger than `MAX_RECORD_BYTES`.',
  },
  undecodable: {
    code: ErrorCode.EVENT_UNDECODABLE,
    doc: 'The value is not UTF-8 JSON; or it is Schema-Registry framed and no `SCHEMA_REGISTRY_URL` is set, or it does not decode with its writer schema.',
  },
  unknown_schema: {
    code: ErrorCode.EVENT_UNDECODABLE,
    doc: 'A Schema-Registry value whose schema id the registry does not know.',
  },
  invalid: {
    code: ErrorCode.EVENT_INVALID,
    doc: 'The value decoded but is not a Tiledesk event (schema `schemas/tiledesk-event.v1.schema.json`).',
  },
  http_3xx: {
    code: ErrorCode.DELIVERY_FAILED,
    doc: 'The receiver answered a redirect (never followed).',
  },
  http_4xx: {
    code: ErrorCode.DELIVERY_FAILED,
    doc: 'The receiver answered a 4xx other than 408, 425 and 429.',
  },
  ssrf: {
    code: ErrorCode.TARGET_FORBIDDEN,
    doc: 'The target resolved to a non-public address outside `TARGET_ALLOW_CIDRS`, or carries credentials (`user:pass@`).',
  },
  invalid_target: {
    code: ErrorCode.DELIVERY_FAILED,
    doc: 'The target is not a URL the client can send to.',
  },
  subscription_invalid: {
    code: ErrorCode.DELIVERY_FAILED,
    doc: "The subscription row cannot be turned into a request (e.g. `created_at = 'infinity'` written by another tool); no attempt is made, the record's other deliveries go on.",
  },
  retries_exhausted: {
    code: ErrorCode.DELIVERY_FAILED,
    doc: 'Every attempt of `RETRY_SCHEDULE` (the first and one per listed wait, ~27 h by default) failed with a retryable error (network, timeout, 408, 425, 429, 5xx).',
  },
  subscription_deleted: {
    code: ErrorCode.DELIVERY_FAILED,
    doc: 'The delivery was parked and its subscription was deleted before it could be delivered.',
  },
  subscription_disabled: {
    code: ErrorCode.SUBSCRIPTION_DISABLED,
    doc: 'The delivery was parked and its subscription was disabled by its endpoint health (`410 Gone`, or failing for `SUBSCRIPTION_DISABLE_AFTER_MS`).',
  },
};

/** The error code of a dead letter's reason (its `dead-lettered` log line carries it). */
export function deadLetterCode(reason: string): ErrorCode | undefined {
  return Object.hasOwn(deadLetterReasonDocs, reason)
    ? deadLetterReasonDocs[reason as DeadLetterReason].code
    : undefined;
}
