/**
 * Turns whatever undici, got or node:net threw into a TransportResult error with a stable code, so
 * `delivery/` branches on the same codes whichever transport is configured. Messages are redacted of
 * header values: the request carries signatures (and, in legacy mode, the plain secret), and a library
 * message that echoed one would leak it into logs and dead-letter headers.
 */
import type { TransportOptions, TransportResult } from './types.js';
import { TargetForbiddenError } from './guarded-lookup.js';

type ErrorResult = Extract<TransportResult, { kind: 'error' }>;

/**
 * Codes this folder produces itself (for the README table). Other codes pass through from Node, e.g.
 * ECONNREFUSED, ENOTFOUND, EAI_AGAIN, EHOSTUNREACH, or TLS ones such as ERR_TLS_CERT_ALTNAME_INVALID.
 */
export const transportErrorDocs = {
  TIMEOUT: 'The attempt exceeded its budget (connect, response headers, or body), whichever phase it was in.',
  TARGET_FORBIDDEN:
    'The target is not http(s), carries credentials, or resolved to a non-public address outside the allow-list.',
  INVALID_URL: 'The target is not a parseable URL.',
  INVALID_REQUEST: 'The request could not be written (e.g. a header value with CR/LF); nothing was sent.',
  ECONNRESET:
    'The receiver closed or reset the connection before answering (undici reports this as UND_ERR_SOCKET).',
  ABORTED: 'The attempt was aborted from outside: the transport was closed.',
} as const;

/** Our own per-attempt deadline, used as the AbortSignal reason so it is recognised below. */
export class AttemptTimeoutError extends Error {
  readonly code = 'TIMEOUT';
  constructor(timeoutMs: number) {
    super(`attempt exceeded ${timeoutMs} ms`);
    this.name = 'AttemptTimeoutError';
  }
}

/** The request itself was malformed (a header value with CR/LF, a bad header name): a bug, not the network. */
const INVALID_REQUEST_CODES = new Set([
  'UND_ERR_INVALID_ARG',
  'ERR_INVALID_CHAR',
  'ERR_INVALID_HTTP_TOKEN',
  'ERR_HTTP_INVALID_HEADER_VALUE',
  'ERR_INVALID_ARG_TYPE',
]);

const TIMEOUT_CODES = new Set([
  'TIMEOUT',
  'ETIMEDOUT', // got's TimeoutError (every phase) and the kernel's connect timeout
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

const ABORTED_CODES = new Set(['ABORT_ERR', 'UND_ERR_ABORTED', 'UND_ERR_CLOSED', 'UND_ERR_DESTROYED']);

/** Values shorter than this (attempt numbers, "application/json") are not worth hiding and mangle text. */
const MIN_REDACTED_LENGTH = 6;

export function errorResult(code: string, message: string, durationMs: number): ErrorResult {
  return { kind: 'error', code, message, durationMs };
}

export function toErrorResult(
  err: unknown,
  durationMs: number,
  headers: Readonly<Record<string, string>>,
): ErrorResult {
  const chain = causeChain(err);
  const forbidden = chain.find((e): e is TargetForbiddenError => e instanceof TargetForbiddenError);
  const code = forbidden !== undefined ? forbidden.code : classify(chain);
  const detail = describe(chain[0]) || code;
  const innermost = chain.at(-1);
  const inner = innermost !== chain[0] ? describe(innermost) : '';
  const cause = inner !== '' && !detail.includes(inner) ? ` (${inner})` : '';
  return errorResult(code, redact(`${detail}${cause}`, headers), durationMs);
}

/** What send() returns for anything thrown during an attempt; a guard refusal is also reported to onRefused. */
export function failureResult(
  err: unknown,
  durationMs: number,
  headers: Readonly<Record<string, string>>,
  onRefused: TransportOptions['onRefused'],
): ErrorResult {
  const result = toErrorResult(err, durationMs, headers);
  if (result.code === 'TARGET_FORBIDDEN') notifyRefused(onRefused, refusalReason(err) ?? 'unknown');
  return result;
}

/** The refusal reason, when the error was the target guard's. */
export function refusalReason(err: unknown): string | undefined {
  return causeChain(err).find((e): e is TargetForbiddenError => e instanceof TargetForbiddenError)?.reason;
}

function classify(chain: readonly unknown[]): string {
  const codes = chain.map(codeOf).filter((c): c is string => c !== undefined);
  const named = chain.some((e) => e instanceof Error && e.name === 'TimeoutError'); // AbortSignal.timeout, got
  if (named || codes.some((c) => TIMEOUT_CODES.has(c))) return 'TIMEOUT';
  if (codes.some((c) => INVALID_REQUEST_CODES.has(c))) return 'INVALID_REQUEST';
  // Prefer the system code (innermost wins: got wraps the net error and copies or replaces its code).
  const system = [...codes].reverse().find((c) => /^E[A-Z0-9_]+$/.test(c));
  if (system !== undefined) return system;
  // undici's "other side closed": the peer dropped the connection mid-exchange, as ECONNRESET means for got.
  if (codes.includes('UND_ERR_SOCKET')) return 'ECONNRESET';
  const aborted =
    codes.some((c) => ABORTED_CODES.has(c)) ||
    chain.some((e) => e instanceof Error && e.name === 'AbortError');
  if (aborted) return 'ABORTED';
  return codes[0] ?? 'UNKNOWN';
}

/** net's happy-eyeballs failure is an AggregateError with an empty message: show its parts instead. */
function describe(e: unknown): string {
  if (e instanceof AggregateError && e.message === '') return e.errors.map(describe).join('; ');
  return e instanceof Error ? e.message : String(e);
}

function codeOf(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null || !('code' in e)) return undefined;
  const { code } = e as { code: unknown };
  return typeof code === 'string' ? code : undefined;
}

function causeChain(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e: unknown = err; e !== undefined && e !== null && chain.length < 8;) {
    if (chain.includes(e)) break;
    chain.push(e);
    e = e instanceof Error ? e.cause : undefined;
  }
  return chain;
}

export function redact(message: string, headers: Readonly<Record<string, string>>): string {
  let out = message;
  for (const value of Object.values(headers)) {
    if (value.length >= MIN_REDACTED_LENGTH) out = out.split(value).join('[redacted]');
  }
  return out;
}

/** A refusal found before any I/O (URL rules, IP literal). */
export function refusalResult(
  code: 'INVALID_URL' | 'TARGET_FORBIDDEN',
  reason: string,
  durationMs: number,
  onRefused: TransportOptions['onRefused'],
): ErrorResult {
  if (code === 'TARGET_FORBIDDEN') notifyRefused(onRefused, reason);
  return errorResult(
    code,
    code === 'INVALID_URL' ? 'target is not a valid URL' : `target refused: ${reason}`,
    durationMs,
  );
}

/** A metrics callback must not turn a refusal into a thrown exception. */
export function notifyRefused(onRefused: TransportOptions['onRefused'], reason: string): void {
  try {
    onRefused?.(reason);
  } catch {
    // ignored on purpose: send() never throws
  }
}
