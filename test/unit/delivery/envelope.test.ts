import { describe, expect, it } from '@jest/globals';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { buildEnvelope, issuedAtOf } from '../../../src/delivery/envelope.js';
import { buildAttemptHeaders, type AttemptHeaderInput } from '../../../src/delivery/headers.js';
import { signJwtHs256 } from '../../../src/delivery/jwt.js';
import { PreparedSubscriptions, prepareSubscription } from '../../../src/delivery/prepared-subscription.js';
import { signHub } from '../../../src/delivery/signing.js';
import { webhookId } from '../../../src/delivery/webhook-id.js';
import type { TiledeskEvent } from '../../../src/events/event.js';
import type { Subscription } from '../../../src/subscriptions/types.js';
import { USER_AGENT } from '../../../src/version.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');

function subscription(over: Partial<Subscription> = {}): Subscription {
  return {
    id: '7f1c2a4e-0000-4000-8000-000000000001',
    idProject: 'proj-42',
    event: 'request.create',
    target: 'https://crm.example.com/hooks?x=1',
    secret: 'sécret-of-the-subscription',
    previousSecret: 'previous-secret-value',
    previousSecretExpiresAt: new Date(NOW + 60_000),
    global: false,
    enabled: true,
    ordering: 'concurrent',
    disabledReason: null,
    disabledAt: null,
    createdBy: 'user-9',
    createdAt: new Date('2026-01-01T00:00:00.000Z'),
    updatedAt: new Date('2026-02-01T10:20:30.456Z'),
    ...over,
  };
}

const PAYLOAD = { _id: 'req-1', text: 'ciao "mondo" ✓', nested: { n: [1, 2.5, null] } };

function event(over: Partial<TiledeskEvent> = {}): TiledeskEvent {
  return {
    id: 'evt-1',
    event: 'request.create',
    idProject: 'proj-42',
    timestamp: 1772366400123,
    payload: Buffer.from(JSON.stringify(PAYLOAD)),
    encoding: 'json',
    ...over,
  };
}

const key = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('webhook body (Tiledesk envelope)', () => {
  it('is {hook, timestamp, payload, token} in that key order, valid JSON', () => {
    const body = buildEnvelope(prepareSubscription(subscription(), NOW), event()).toString('utf8');
    const parsed = JSON.parse(body) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual(['hook', 'timestamp', 'payload', 'token']);
    expect(parsed.timestamp).toBe(1772366400123);
    expect(parsed.payload).toEqual(PAYLOAD);
    expect(typeof parsed.token).toBe('string');
  });

  it('carries Tiledesk hook fields only: never secret, previous secret or global', () => {
    const sub = subscription();
    const body = buildEnvelope(prepareSubscription(sub, NOW), event()).toString('utf8');
    const { hook } = JSON.parse(body) as { hook: Record<string, unknown> };
    expect(hook).toEqual({
      _id: sub.id,
      event: 'request.create',
      target: 'https://crm.example.com/hooks?x=1',
      id_project: 'proj-42',
      createdBy: 'user-9',
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-02-01T10:20:30.456Z',
    });
    expect(Object.keys(hook)).toEqual([
      '_id',
      'event',
      'target',
      'id_project',
      'createdBy',
      'createdAt',
      'updatedAt',
    ]);
    expect(body).not.toContain(sub.secret);
    expect(body).not.toContain(sub.previousSecret!);
    expect(body).not.toMatch(/"global"|"secret"|"enabled"/);
  });

  it('keeps global out of the body of a global subscription too', () => {
    const body = buildEnvelope(prepareSubscription(subscription({ global: true }), NOW), event()).toString(
      'utf8',
    );
    expect(body).not.toMatch(/"global"/);
    expect(Object.keys((JSON.parse(body) as { hook: object }).hook)).not.toContain('global');
  });

  it('is byte-identical across calls (every attempt sends the same bytes)', () => {
    const cache = new PreparedSubscriptions(() => NOW);
    const sub = subscription();
    const a = buildEnvelope(cache.get(sub), event());
    const b = buildEnvelope(cache.get(sub), event());
    expect(b.equals(a)).toBe(true);
    expect(b).not.toBe(a); // a fresh buffer each time: nothing shared between deliveries can be mutated
  });

  it('embeds the payload exactly as serialised once per event', () => {
    const payloadJson = '{"b":1,"a":"\\u00e9","c":"✓"}';
    const body = buildEnvelope(
      prepareSubscription(subscription(), NOW),
      event({ payload: Buffer.from(payloadJson) }),
    );
    expect(body.toString('utf8')).toContain(`"payload":${payloadJson},"token":`);
  });

  it('is the UTF-8 encoding of the envelope text, whatever the hook, payload and token contain', () => {
    const sub = subscription({ createdBy: 'ユーザー "9"', target: 'https://crm.example.com/é?q=✓' });
    const prepared = prepareSubscription(sub, NOW);
    const token = prepared.token(issuedAtOf(event()));
    const text = `{"hook":${prepared.hookJson},"timestamp":1772366400123,"payload":${JSON.stringify(PAYLOAD)},"token":${JSON.stringify(token)}}`;
    expect(buildEnvelope(prepared, event()).equals(Buffer.from(text, 'utf8'))).toBe(true);
    expect(JSON.parse(text)).toMatchObject({ hook: { createdBy: 'ユーザー "9"' }, payload: PAYLOAD });
  });
});

describe('token (JWT HS256 keyed with the secret)', () => {
  const IAT = Math.floor(NOW / 1000);
  const noRotation = { previousSecret: null, previousSecretExpiresAt: null };

  it('verifies with jose: iss, sub, aud of a project subscription, hook claims', async () => {
    const sub = subscription(noRotation);
    const token = prepareSubscription(sub, NOW).token(IAT);
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'JWT' });
    const { payload } = await jwtVerify(token, key(sub.secret), {
      algorithms: ['HS256'],
      issuer: 'https://tiledesk.com',
      subject: 'subscription',
      audience: `https://tiledesk.com/subscriptions/${sub.id}`,
      currentDate: new Date(NOW),
    });
    expect(payload).toMatchObject({
      _id: sub.id,
      event: sub.event,
      target: sub.target,
      id_project: sub.idProject,
      createdBy: sub.createdBy,
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-02-01T10:20:30.456Z',
      iat: Math.floor(NOW / 1000),
    });
    expect(payload).not.toHaveProperty('secret');
    expect(payload).not.toHaveProperty('global');
  });

  it('has the bare issuer as audience for a global subscription', async () => {
    const sub = subscription({ ...noRotation, global: true });
    const token = prepareSubscription(sub, NOW).token(IAT);
    const { payload } = await jwtVerify(token, key(sub.secret), {
      issuer: 'https://tiledesk.com',
      audience: 'https://tiledesk.com',
    });
    expect(payload.aud).toBe('https://tiledesk.com');
    await expect(
      jwtVerify(token, key(sub.secret), { audience: `https://tiledesk.com/subscriptions/${sub.id}` }),
    ).rejects.toThrow();
  });

  it("is keyed with the secret's UTF-8 bytes: another key fails", async () => {
    const token = prepareSubscription(subscription(noRotation), NOW).token(IAT);
    await expect(jwtVerify(token, key('previous-secret-value'))).rejects.toThrow(/signature/);
    await expect(
      jwtVerify(token, new Uint8Array(Buffer.from(subscription().secret, 'latin1'))),
    ).rejects.toThrow(/signature/);
  });

  it('signJwtHs256 output verifies with jose for arbitrary claims', async () => {
    const token = signJwtHs256({ a: 'ü', n: 1 }, 'k€y');
    const { payload } = await jwtVerify(token, key('k€y'), { algorithms: ['HS256'] });
    expect(payload).toEqual({ a: 'ü', n: 1 });
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  });
});

describe('webhook-id', () => {
  it('is stable for one (event id, subscription id) pair', () => {
    expect(webhookId('evt-1', 'sub-1')).toBe(webhookId('evt-1', 'sub-1'));
    expect(webhookId('evt-1', 'sub-1')).toMatch(/^msg_[A-Za-z0-9_-]{32}$/);
  });

  it('differs when either id differs, and is not fooled by moving characters between them', () => {
    const ids = new Set([
      webhookId('evt-1', 'sub-1'),
      webhookId('evt-2', 'sub-1'),
      webhookId('evt-1', 'sub-2'),
      webhookId('evt-1s', 'ub-1'),
      webhookId('evt-1sub-1', ''),
      webhookId('tiledesk.events-0-17', 'sub-1'),
      webhookId('tiledesk.events-0-18', 'sub-1'),
    ]);
    expect(ids.size).toBe(7);
  });

  it('is header-safe whatever the ids contain', () => {
    expect(webhookId('evt\r\nX-Evil: 1', 'sub 1/é')).toMatch(/^msg_[A-Za-z0-9_-]+$/);
  });
});

describe('attempt headers', () => {
  const sub = subscription();
  const prepared = prepareSubscription(sub, NOW);
  const body = buildEnvelope(prepared, event());
  const input: AttemptHeaderInput = {
    prepared,
    event: 'request.create',
    msgId: webhookId('evt-1', sub.id),
    body,
    hub: signHub(sub.secret, body),
    attempt: 3,
    sentAtMs: NOW + 1_999,
    userAgent: USER_AGENT,
    legacySecretHeader: false,
  };

  it('has every documented header with its value', () => {
    const h = buildAttemptHeaders(input);
    expect(h['content-type']).toBe('application/json');
    expect(h['user-agent']).toMatch(/^tiledesk-webhooks/);
    expect(h['user-agent']).toContain('tiledesk-webhook-connector/');
    expect(h['x-tiledesk-event']).toBe('request.create');
    expect(h['x-webhook-attempt']).toBe('3');
    expect(h['webhook-id']).toBe(webhookId('evt-1', sub.id));
    expect(h['webhook-timestamp']).toBe(String(Math.floor((NOW + 1_999) / 1000)));
    expect(h['x-hub-signature']).toBe(signHub(sub.secret, body).sha1);
    expect(h['x-hub-signature-256']).toBe(signHub(sub.secret, body).sha256);
    expect(h['webhook-signature']).toMatch(/^v1,\S+ v1,\S+$/); // rotation overlap: two signatures
  });

  it('never sends the plain secret unless legacy compatibility is on', () => {
    const h = buildAttemptHeaders(input);
    expect(Object.keys(h)).not.toContain('x-hook-secret');
    expect(Object.values(h).join('\n')).not.toContain(sub.secret);
    expect(Object.values(h).join('\n')).not.toContain(sub.previousSecret);
    const legacy = buildAttemptHeaders({ ...input, legacySecretHeader: true });
    // The fixture is inside a rotation overlap: Tiledesk receivers still compare with the previous secret.
    expect(legacy['x-hook-secret']).toBe(sub.previousSecret);
    const current = prepareSubscription(
      subscription({ previousSecret: null, previousSecretExpiresAt: null }),
      NOW,
    );
    expect(
      buildAttemptHeaders({ ...input, prepared: current, legacySecretHeader: true })['x-hook-secret'],
    ).toBe(sub.secret);
  });

  it('changes only timestamp, signature and attempt number between attempts', () => {
    const a = buildAttemptHeaders({ ...input, attempt: 1, sentAtMs: NOW });
    const b = buildAttemptHeaders({ ...input, attempt: 2, sentAtMs: NOW + 5_000 });
    const changed = Object.keys(a).filter((k) => a[k] !== b[k]);
    expect(changed.sort()).toEqual(['webhook-signature', 'webhook-timestamp', 'x-webhook-attempt']);
  });
});
