import { describe, expect, it } from '@jest/globals';
import { verify as verifyGithub } from '@octokit/webhooks-methods';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { buildAttemptHeaders } from '../../../src/delivery/headers.js';
import { PreparedSubscriptions, prepareSubscription } from '../../../src/delivery/prepared-subscription.js';
import { signHub, signStandardWebhook, standardWebhooksKey } from '../../../src/delivery/signing.js';
import type { Subscription } from '../../../src/subscriptions/types.js';
import { subscription } from '../../support/subscription.js';

// Vectors computed independently of Node (openssl dgst -hmac), not with the code under test.
const GITHUB_SECRET = "It's a Secret to Everybody";
const GITHUB_PAYLOAD = 'Hello, World!';
const GITHUB_SHA256 = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
const GITHUB_SHA1 = 'sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59';
// printf '{"a":"é"}' | openssl dgst -sha256 -hmac "sécret-ключ": the key is the secret's UTF-8 bytes.
const UTF8_SECRET = 'sécret-ключ';
const UTF8_BODY = '{"a":"é"}';
const UTF8_SHA256 = 'sha256=0132d06c5306c4132af8e2fb6b92c36f09e0503309c4018d2b6e1e245e543de0';
const UTF8_SHA1 = 'sha1=3d20f78a65994615845ee6990a516e2d0285b5db';

/** Headers of one attempt sent "now", so standardwebhooks' 5-minute tolerance accepts them. */
function headersFor(sub: Subscription, body: string, sentAtMs = Date.now()): Record<string, string> {
  const prepared = prepareSubscription(sub, sentAtMs);
  return buildAttemptHeaders({
    prepared,
    event: sub.event,
    msgId: 'msg_test',
    body,
    hub: signHub(prepared.hubKey, body),
    attempt: 1,
    sentAtMs,
    userAgent: 'tiledesk-webhooks (test)',
    legacySecretHeader: false,
  });
}

describe('X-Hub-Signature / X-Hub-Signature-256', () => {
  it("matches GitHub's documented example", () => {
    expect(signHub(GITHUB_SECRET, GITHUB_PAYLOAD)).toEqual({ sha1: GITHUB_SHA1, sha256: GITHUB_SHA256 });
  });

  it("keys with the secret's UTF-8 bytes and signs the UTF-8 body", () => {
    expect(signHub(UTF8_SECRET, UTF8_BODY)).toEqual({ sha1: UTF8_SHA1, sha256: UTF8_SHA256 });
  });

  it("verifies with GitHub's own tooling (@octokit/webhooks-methods)", async () => {
    const body = '{"hook":{"_id":"s"},"timestamp":1,"payload":{"text":"ciao ✓"},"token":"x"}';
    const { sha256 } = signHub(UTF8_SECRET, body);
    await expect(verifyGithub(UTF8_SECRET, body, sha256)).resolves.toBe(true);
    await expect(verifyGithub(UTF8_SECRET, `${body} `, sha256)).resolves.toBe(false);
    await expect(verifyGithub('another-secret', body, sha256)).resolves.toBe(false);
    await expect(
      verifyGithub(GITHUB_SECRET, GITHUB_PAYLOAD, signHub(GITHUB_SECRET, GITHUB_PAYLOAD).sha256),
    ).resolves.toBe(true);
  });

  it('uses the whole whsec_ string as the HMAC key (only Standard Webhooks decodes it)', () => {
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    // sha256 over "x" keyed with the literal string, not with its base64 decoding.
    const literal = signHub(secret, 'x').sha256;
    return expect(verifyGithub(secret, 'x', literal)).resolves.toBe(true);
  });
});

describe('Standard Webhooks signature', () => {
  it("reproduces the spec library's published test vector", () => {
    const key = standardWebhooksKey('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    expect(signStandardWebhook(key, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toBe(
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    );
  });

  it('decodes the base64 part of a whsec_ secret', () => {
    expect(standardWebhooksKey('whsec_AAECAwQ=')).toEqual(Buffer.from([0, 1, 2, 3, 4]));
  });

  it("uses a non-whsec secret's UTF-8 bytes", () => {
    expect(standardWebhooksKey('abc')).toEqual(Buffer.from('abc'));
    expect(standardWebhooksKey(UTF8_SECRET)).toEqual(Buffer.from(UTF8_SECRET, 'utf8'));
  });

  it('verifies with the standardwebhooks package for a whsec_ secret', () => {
    const body = '{"hook":{},"timestamp":1700000000000,"payload":{"a":"é"},"token":"t"}';
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const headers = headersFor(subscription({ secret }), body);
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(secret).verify(body.replace('é', 'e'), headers)).toThrow(
      WebhookVerificationError,
    );
  });

  it("verifies a non-whsec secret as raw UTF-8 bytes (the package would base64-decode it unless format 'raw')", () => {
    const body = '{"payload":{"n":1}}';
    const secret = '56c189c8-33ae-4930-bd98-410a12aa45ce';
    const headers = headersFor(subscription({ secret }), body);
    expect(new Webhook(secret, { format: 'raw' }).verify(body, headers)).toEqual({ payload: { n: 1 } });
    const nonAscii = headersFor(subscription({ secret: UTF8_SECRET }), body);
    // standardwebhooks maps a raw *string* with charCodeAt (Latin-1); pass the UTF-8 bytes for non-ASCII.
    expect(new Webhook(Buffer.from(UTF8_SECRET, 'utf8'), { format: 'raw' }).verify(body, nonAscii)).toEqual({
      payload: { n: 1 },
    });
  });

  it('signs id.timestamp.body with the attempt time in seconds', () => {
    const sentAtMs = Date.now();
    const headers = headersFor(subscription({ secret: 'whsec_AAECAwQ=' }), '{}', sentAtMs);
    expect(headers['webhook-timestamp']).toBe(String(Math.floor(sentAtMs / 1000)));
    const expected = new Webhook('whsec_AAECAwQ=').sign('msg_test', new Date(sentAtMs), '{}');
    expect(headers['webhook-signature']).toBe(expected);
  });

  it('during a rotation overlap sends two space-separated signatures that each verify', () => {
    const now = Date.now();
    const oldSecret = 'whsec_b2xkLXNlY3JldC1vbGQtc2VjcmV0';
    const newSecret = 'whsec_bmV3LXNlY3JldC1uZXctc2VjcmV0';
    const sub = subscription({
      secret: newSecret,
      previousSecret: oldSecret,
      previousSecretExpiresAt: new Date(now + 60_000),
    });
    const body = '{"x":1}';
    const headers = headersFor(sub, body, now);
    const parts = headers['webhook-signature']!.split(' ');
    expect(parts).toHaveLength(2);
    expect(parts[0]).toBe(new Webhook(newSecret).sign('msg_test', new Date(now), body));
    expect(new Webhook(newSecret).verify(body, headers)).toEqual({ x: 1 });
    expect(new Webhook(oldSecret).verify(body, headers)).toEqual({ x: 1 });
    // The single-valued X-Hub signatures stay keyed with the previous secret until the overlap ends.
    expect(headers['x-hub-signature-256']).toBe(signHub(oldSecret, body).sha256);
  });

  it('drops the previous secret once the overlap has ended', () => {
    let now = Date.now();
    const oldSecret = 'whsec_b2xkLXNlY3JldC1vbGQtc2VjcmV0';
    const newSecret = 'whsec_bmV3LXNlY3JldC1uZXctc2VjcmV0';
    const sub = subscription({
      secret: newSecret,
      previousSecret: oldSecret,
      previousSecretExpiresAt: new Date(now + 1_000),
    });
    const cache = new PreparedSubscriptions(() => now);
    expect(cache.get(sub).standardKeys).toHaveLength(2);
    now += 1_000;
    const prepared = cache.get(sub);
    expect(prepared.standardKeys.map((k) => k.export())).toEqual([standardWebhooksKey(newSecret)]);
    const headers = buildAttemptHeaders({
      prepared,
      event: sub.event,
      msgId: 'msg_test',
      body: '{}',
      hub: signHub(newSecret, '{}'),
      attempt: 1,
      sentAtMs: now,
      userAgent: 'ua',
      legacySecretHeader: false,
    });
    expect(headers['webhook-signature']!.split(' ')).toHaveLength(1);
    expect(() => new Webhook(oldSecret).verify('{}', headers)).toThrow(WebhookVerificationError);
    expect(new Webhook(newSecret).verify('{}', headers)).toEqual({});
  });

  it('never signs with an already expired previous secret', () => {
    const now = Date.now();
    const sub = subscription({
      previousSecret: 'old-secret-0123456789',
      previousSecretExpiresAt: new Date(now - 1),
    });
    expect(prepareSubscription(sub, now).standardKeys).toHaveLength(1);
  });
});
