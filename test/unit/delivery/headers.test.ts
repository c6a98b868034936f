import { describe, expect, it } from '@jest/globals';
import { buildAttemptHeaders, webhookHeaderSpec } from '../../../src/delivery/headers.js';
import { prepareSubscription } from '../../../src/delivery/prepared-subscription.js';
import { signHub } from '../../../src/delivery/signing.js';
import { subscription } from '../../support/subscription.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const sub = subscription();

function headersOf(legacySecretHeader: boolean): Record<string, string> {
  const prepared = prepareSubscription(sub, NOW);
  const body = Buffer.from('{"hook":{}}');
  return buildAttemptHeaders({
    prepared,
    event: 'request.create',
    msgId: 'msg_1',
    body,
    hub: signHub(prepared.hubKey, body),
    attempt: 1,
    sentAtMs: NOW,
    userAgent: 'ua',
    legacySecretHeader,
  });
}

/** The spec's headers the connector builds (the HTTP client adds Host & co.), lower-case, sorted. */
const built = (legacy: boolean): string[] =>
  webhookHeaderSpec
    .filter((h) => h.setBy === 'connector' && (h.sent === 'always' || legacy))
    .map((h) => h.name.toLowerCase())
    .sort();

describe('buildAttemptHeaders', () => {
  it('builds exactly the headers webhookHeaderSpec lists for the connector, by mode', () => {
    expect(Object.keys(headersOf(false)).sort()).toEqual(built(false));
    expect(Object.keys(headersOf(true)).sort()).toEqual(built(true));
    expect(built(true)).toEqual([...built(false), 'x-hook-secret'].sort());
  });

  it('lists each header once in the spec', () => {
    const names = webhookHeaderSpec.map((h) => h.name.toLowerCase());
    expect(new Set(names).size).toBe(names.length);
  });
});
