/**
 * The keyset cursor of a subscription's deliveries (pg-delivery-log-reader.ts `deliveries`): the last
 * delivery's latest attempt time in microseconds and its webhook-id, as base64url JSON. Opaque to callers;
 * only what encodeCursor produces decodes.
 */
/** A cursor from another query, or not one of ours: the caller's mistake (a 400). */
export class InvalidCursorError extends Error {
  constructor() {
    super('invalid cursor');
    this.name = 'InvalidCursorError';
  }
}

/** 9999-12-31T23:59:59.999999Z in microseconds since 1970. */
const MAX_CURSOR_MICROS = 253_402_300_799_999_999n;

export function encodeCursor(atMicros: string, webhookId: string): string {
  return Buffer.from(JSON.stringify([atMicros, webhookId]), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): { atMicros: string; webhookId: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError();
  }
  // Only what encodeCursor can produce: a time in Postgres's timestamp range (microseconds since 1970,
  // years 1970..9999) and a webhook-id; anything else would reach Postgres as an out-of-range bigint or a
  // NUL in text and fail there, as if the database were down.
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 2 ||
    typeof parsed[0] !== 'string' ||
    !/^\d{1,18}$/.test(parsed[0]) ||
    BigInt(parsed[0]) > MAX_CURSOR_MICROS ||
    typeof parsed[1] !== 'string' ||
    !/^[\x21-\x7e]{1,128}$/.test(parsed[1])
  ) {
    throw new InvalidCursorError();
  }
  return { atMicros: parsed[0], webhookId: parsed[1] };
}
