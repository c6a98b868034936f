/**
 * Every failure of the management API as one JSON shape, `{"success": false, "code", "msg"}` (Tiledesk's
 * `{success, msg}` plus this service's stable code), with the HTTP status its code means. fastify's own
 * errors (body not JSON, too large, wrong media type, schema validation) get API_* codes.
 */
import { ErrorCode, errorCodeOf } from '../errors.js';
import { InvalidCursorError } from './store/cursor.js';

export interface ApiErrorReply {
  readonly status: number;
  /** No code only for a bug (500), as a CLI error without a code is one. */
  readonly body: { success: false; code?: ErrorCode; msg: string };
}

const STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.API_BAD_REQUEST]: 400,
  [ErrorCode.SUBSCRIPTION_INVALID]: 400,
  [ErrorCode.API_UNAUTHORIZED]: 401,
  [ErrorCode.API_FORBIDDEN]: 403,
  [ErrorCode.API_NOT_FOUND]: 404,
  [ErrorCode.SUBSCRIPTION_NOT_FOUND]: 404,
  [ErrorCode.DELIVERY_NOT_FOUND]: 404,
  [ErrorCode.API_PAYLOAD_TOO_LARGE]: 413,
  [ErrorCode.SUBSCRIPTIONS_UNAVAILABLE]: 503,
  [ErrorCode.DELIVERY_STORE_UNAVAILABLE]: 503,
  [ErrorCode.API_SHUTTING_DOWN]: 503,
};

const reply = (status: number, code: ErrorCode, msg: string): ApiErrorReply => ({
  status,
  body: { success: false, code, msg },
});

/**
 * Postgres unavailable, not refusing a query: a failed connection (a system code such as ECONNREFUSED, or
 * node-postgres's "Connection terminated"), or an error of SQLSTATE class 08 (connection), 53
 * (insufficient resources), 57 (operator intervention: shutdown, cancel, statement timeout) or 58
 * (system error). Another Postgres error is a query this service got wrong: a bug, not an outage.
 */
function isPostgresUnavailable(err: Error & { severity?: unknown; code?: unknown }): boolean {
  if (typeof err.code === 'string' && /^E[A-Z]+$/.test(err.code)) return true;
  if (/^Connection terminated/.test(err.message)) return true;
  return typeof err.severity === 'string' && typeof err.code === 'string' && /^(08|53|57|58)/.test(err.code);
}

/** The reply for `err`; `internal` is true when it is a bug (logged with its stack by the caller). */
export function apiErrorReply(err: unknown): ApiErrorReply & { internal: boolean } {
  const code = errorCodeOf(err);
  const e = (err ?? {}) as Error & { statusCode?: unknown; code?: unknown; validation?: unknown };
  if (code !== undefined) {
    return { ...reply(STATUS[code] ?? 500, code, e.message), internal: STATUS[code] === undefined };
  }
  if (e.validation !== undefined) {
    return { ...reply(400, ErrorCode.API_BAD_REQUEST, e.message), internal: false };
  }
  // The delivery-log reader's: a `cursor` that is not one of its own is the caller's mistake.
  if (err instanceof InvalidCursorError) {
    return { ...reply(400, ErrorCode.API_BAD_REQUEST, 'invalid cursor'), internal: false };
  }
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return { ...reply(413, ErrorCode.API_PAYLOAD_TOO_LARGE, 'request body is too large'), internal: false };
  }
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) {
    // fastify's: not JSON, empty JSON body, unsupported media type (415), bad URL, bad content length.
    return { ...reply(status, ErrorCode.API_BAD_REQUEST, e.message), internal: false };
  }
  if (err instanceof Error && isPostgresUnavailable(e)) {
    return {
      ...reply(503, ErrorCode.SUBSCRIPTIONS_UNAVAILABLE, 'Postgres is unavailable; try again'),
      internal: false,
    };
  }
  return { status: 500, body: { success: false, msg: 'internal error' }, internal: true };
}
