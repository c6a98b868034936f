import { describe, expect, it } from '@jest/globals';
import { apiErrorReply } from '../../../src/api/api-errors.js';
import { ConnectorError, ErrorCode } from '../../../src/errors.js';
import { InvalidCursorError } from '../../../src/api/store/cursor.js';

describe('apiErrorReply', () => {
  it.each([
    [ErrorCode.API_UNAUTHORIZED, 401],
    [ErrorCode.API_FORBIDDEN, 403],
    [ErrorCode.API_NOT_FOUND, 404],
    [ErrorCode.SUBSCRIPTION_NOT_FOUND, 404],
    [ErrorCode.DELIVERY_NOT_FOUND, 404],
    [ErrorCode.SUBSCRIPTION_INVALID, 400],
    [ErrorCode.API_BAD_REQUEST, 400],
    [ErrorCode.API_PAYLOAD_TOO_LARGE, 413],
    [ErrorCode.SUBSCRIPTIONS_UNAVAILABLE, 503],
    [ErrorCode.DELIVERY_STORE_UNAVAILABLE, 503],
  ])('%s → %i with its code and message', (code, status) => {
    expect(apiErrorReply(new ConnectorError(code, 'why'))).toEqual({
      status,
      body: { success: false, code, msg: 'why' },
      internal: false,
    });
  });

  it("maps fastify's errors: validation 400, body too large 413, other 4xx kept", () => {
    expect(
      apiErrorReply(Object.assign(new Error('body/event must be string'), { validation: [] })),
    ).toMatchObject({
      status: 400,
      body: { code: ErrorCode.API_BAD_REQUEST },
    });
    expect(
      apiErrorReply(
        Object.assign(new Error('too large'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }),
      ),
    ).toMatchObject({ status: 413, body: { code: ErrorCode.API_PAYLOAD_TOO_LARGE } });
    expect(
      apiErrorReply(
        Object.assign(new Error('unsupported'), { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 }),
      ),
    ).toMatchObject({ status: 415, body: { code: ErrorCode.API_BAD_REQUEST } });
  });

  it("the delivery-log reader's InvalidCursorError (a foreign cursor) is 400", () => {
    const err = new InvalidCursorError();
    expect(apiErrorReply(err)).toEqual({
      status: 400,
      body: { success: false, code: ErrorCode.API_BAD_REQUEST, msg: 'invalid cursor' },
      internal: false,
    });
  });

  it('Postgres failures are 503 SUBSCRIPTIONS_UNAVAILABLE; anything else a 500 without a code (a bug)', () => {
    expect(
      apiErrorReply(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
    ).toMatchObject({
      status: 503,
      body: { code: ErrorCode.SUBSCRIPTIONS_UNAVAILABLE },
      internal: false,
    });
    const pgError = (code: string): Error =>
      Object.assign(new Error(`pg ${code}`), { severity: 'ERROR', code });
    for (const code of ['08006', '53300', '57P01', '57014', '58030']) {
      expect(apiErrorReply(pgError(code))).toMatchObject({ status: 503, internal: false });
    }
    // A query Postgres refuses for its values (bigint out of range, NUL in text) is not an outage.
    for (const code of ['22003', '22021', '42601']) {
      expect(apiErrorReply(pgError(code))).toMatchObject({ status: 500, internal: true });
    }
    expect(apiErrorReply(new TypeError('x is undefined'))).toEqual({
      status: 500,
      body: { success: false, msg: 'internal error' },
      internal: true,
    });
  });
});
