import { describe, expect, it } from '@jest/globals';
import { AttemptTimeoutError, redact, toErrorResult } from '../../../src/transport/transport-error.js';
import { TargetForbiddenError } from '../../../src/transport/guarded-lookup.js';

function coded(message: string, code: string, cause?: unknown): Error {
  return Object.assign(new Error(message, { cause }), { code });
}

describe('toErrorResult', () => {
  it.each([
    ['our per-attempt deadline', new AttemptTimeoutError(100), 'TIMEOUT'],
    ['undici connect timeout', coded('Connect Timeout Error', 'UND_ERR_CONNECT_TIMEOUT'), 'TIMEOUT'],
    ['undici headers timeout', coded('Headers Timeout Error', 'UND_ERR_HEADERS_TIMEOUT'), 'TIMEOUT'],
    ['undici body timeout', coded('Body Timeout Error', 'UND_ERR_BODY_TIMEOUT'), 'TIMEOUT'],
    [
      'got timeout (any phase)',
      Object.assign(coded("Timeout awaiting 'connect' for 5ms", 'ETIMEDOUT'), { name: 'TimeoutError' }),
      'TIMEOUT',
    ],
    ['undici socket closed', coded('other side closed', 'UND_ERR_SOCKET'), 'ECONNRESET'],
    [
      'got wrapping a net error',
      coded('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED', coded('x', 'ECONNREFUSED')),
      'ECONNREFUSED',
    ],
    [
      'got wrapping the guard',
      coded('target refused', 'TARGET_FORBIDDEN', new TargetForbiddenError('loopback', '127.0.0.1')),
      'TARGET_FORBIDDEN',
    ],
    ['bare guard error', new TargetForbiddenError('private', '10.0.0.1', 'db.internal'), 'TARGET_FORBIDDEN'],
    [
      'undici invalid header',
      coded('invalid x-hook-secret header', 'UND_ERR_INVALID_ARG'),
      'INVALID_REQUEST',
    ],
    [
      'node invalid header',
      coded('Invalid character in header content ["x"]', 'ERR_INVALID_CHAR'),
      'INVALID_REQUEST',
    ],
    [
      'TLS verification',
      coded('self-signed certificate', 'DEPTH_ZERO_SELF_SIGNED_CERT'),
      'DEPTH_ZERO_SELF_SIGNED_CERT',
    ],
    ['something without a code', new Error('boom'), 'UNKNOWN'],
    ['a thrown string', 'boom', 'UNKNOWN'],
  ])('%s → %s', (_what, err, code) => {
    expect(toErrorResult(err, 5, {})).toMatchObject({ kind: 'error', code, durationMs: 5 });
  });

  it('says which host and address the guard refused', () => {
    const result = toErrorResult(new TargetForbiddenError('loopback', '127.0.0.1', 'evil.example'), 1, {});
    expect(result.message).toBe('target evil.example (127.0.0.1) refused: loopback');
  });

  it('describes a happy-eyeballs failure by its parts', () => {
    const err = Object.assign(
      new AggregateError([
        coded('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED'),
        coded('connect ECONNREFUSED ::1:1', 'ECONNREFUSED'),
      ]),
      { code: 'ECONNREFUSED' },
    );
    expect(toErrorResult(err, 1, {})).toMatchObject({
      code: 'ECONNREFUSED',
      message: 'connect ECONNREFUSED 127.0.0.1:1; connect ECONNREFUSED ::1:1',
    });
  });

  it('never carries a header value in the message', () => {
    const secret = 'sha256=0123456789abcdef';
    const err = coded(
      `invalid header value ${secret}`,
      'UND_ERR_INVALID_ARG',
      new Error(`because of ${secret}`),
    );
    const result = toErrorResult(err, 1, { 'x-hub-signature-256': secret, 'x-webhook-attempt': '1' });
    expect(result.message).not.toContain(secret);
    expect(result.message).toContain('[redacted]');
  });
});

describe('redact', () => {
  it('leaves short, harmless values alone so messages stay readable', () => {
    expect(redact('attempt 1 failed', { 'x-webhook-attempt': '1' })).toBe('attempt 1 failed');
  });
});
