import { describe, expect, it } from '@jest/globals';
import { ErrorCode } from '../../../src/errors.js';
import { assertValidSubscription, subscriptionProblems } from '../../../src/subscriptions/validate.js';

const ok = {
  idProject: 'P',
  event: 'request.create',
  target: 'https://crm.example.com/hooks',
  createdBy: 'u1',
};

describe('subscriptionProblems', () => {
  it('accepts a Tiledesk-style subscription, with or without an imported secret', () => {
    expect(subscriptionProblems(ok)).toEqual([]);
    expect(subscriptionProblems({ ...ok, target: 'http://10.0.0.1:8080/x?y=1', global: true })).toEqual([]);
    expect(subscriptionProblems({ ...ok, secret: '56c189c8-33ae-4930-bd98-410a12aa45ce' })).toEqual([]);
  });

  it('reports every problem at once', () => {
    const problems = subscriptionProblems({ idProject: '', event: 'a b', target: 'ftp://x', createdBy: ' ' });
    expect(problems).toEqual([
      'project is required',
      'event "a b" must be printable ASCII without spaces (e.g. request.create)',
      'target "ftp://x" must start with http:// or https://',
      'created-by is required',
    ]);
  });

  it('rejects wildcards, header-breaking events and malformed targets or secrets', () => {
    expect(subscriptionProblems({ ...ok, event: 'request.*' })[0]).toMatch(/wildcard/);
    expect(subscriptionProblems({ ...ok, event: 'a\r\nX-Evil: 1' })).toContain(
      'event contains control characters',
    );
    expect(subscriptionProblems({ ...ok, target: 'https://' })[0]).toMatch(/not a valid URL|no host/);
    expect(subscriptionProblems({ ...ok, target: 'https://a b.example' })).not.toEqual([]);
    expect(subscriptionProblems({ ...ok, secret: 'short' })[0]).toMatch(/16 to 512/);
    expect(subscriptionProblems({ ...ok, secret: 'whsec_not base64 at all!!' })).not.toEqual([]);
  });

  it('throws SUBSCRIPTION_INVALID with the list in details', () => {
    expect(() => assertValidSubscription({ ...ok, target: 'nope' })).toThrow(
      expect.objectContaining({
        code: ErrorCode.SUBSCRIPTION_INVALID,
        details: { problems: [expect.stringMatching(/http/)] },
      }),
    );
  });
});
