import { describe, expect, it } from '@jest/globals';
import { jwtVerify } from 'jose';
import { Webhook } from 'standardwebhooks';
import type { Clock } from '../../../src/clock.js';
import type { AttemptOutcome } from '../../../src/delivery/classify.js';
import { deliver, type DeliverDeps } from '../../../src/delivery/deliver.js';
import { PreparedSubscriptions } from '../../../src/delivery/prepared-subscription.js';
import { maxAttempts, type RetryPolicy } from '../../../src/delivery/retry-policy.js';
import { OriginSlots } from '../../../src/delivery/origin-slots.js';
import { Semaphore } from '../../../src/delivery/semaphore.js';
import { signHub } from '../../../src/delivery/signing.js';
import { webhookId } from '../../../src/delivery/webhook-id.js';
import type { TiledeskEvent } from '../../../src/events/event.js';
import type { Subscription } from '../../../src/subscriptions/types.js';
import type { TransportResult, WebhookRequest, WebhookTransport } from '../../../src/transport/types.js';
import { subscription } from '../../support/subscription.js';

const T0 = Date.parse('2026-03-01T12:00:00.250Z');
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const POLICY: RetryPolicy = {
  schedule: [1_000, 3_000, 9_000],
  jitter: 0.5,
  retryAfterMaxMs: 20_000,
  inProcessMaxMs: 10_000,
};

const sub = subscription({ secret: SECRET });

const payload = { _id: 'req-1', text: 'hello' };
const event: TiledeskEvent = {
  id: 'evt-1',
  event: 'request.create',
  idProject: 'P1',
  timestamp: T0 - 5_000,
  payload: Buffer.from(JSON.stringify(payload)),
  encoding: 'json',
};

/** A clock whose sleep returns at once, moving time forward and recording each delay. */
class FakeClock implements Clock {
  readonly sleeps: number[] = [];
  onSleep?: (ms: number) => void;
  constructor(private t: number) {}
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.t += ms;
    this.onSleep?.(ms);
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

const ok = (status = 200, headers: Record<string, string> = {}): TransportResult => ({
  kind: 'response',
  status,
  headers,
  durationMs: 1,
});
const netError = (code: string): TransportResult => ({
  kind: 'error',
  code,
  message: 'connect failed',
  durationMs: 1,
});

/** Answers from a script (the last answer repeats) and records every request. */
class ScriptedTransport implements WebhookTransport {
  readonly name = 'undici' as const;
  readonly requests: WebhookRequest[] = [];
  constructor(
    private readonly script: TransportResult[],
    private readonly clock?: FakeClock,
  ) {}
  async send(request: WebhookRequest): Promise<TransportResult> {
    this.requests.push(request);
    this.clock?.advance(40); // the request takes some time
    return this.script[Math.min(this.requests.length - 1, this.script.length - 1)]!;
  }
  async close(): Promise<void> {}
  async destroy(): Promise<void> {}
}

function deps(transport: WebhookTransport, clock: Clock, over: Partial<DeliverDeps> = {}): DeliverDeps {
  return {
    transport,
    prepared: new PreparedSubscriptions(() => clock.now()),
    policy: POLICY,
    clock,
    random: () => 0, // no jitter: waits are the schedule's
    slots: new Semaphore(8),
    userAgent: 'tiledesk-webhooks (test)',
    legacySecretHeader: false,
    ...over,
  };
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('deliver', () => {
  it('retries 500, 500 then succeeds: same body and X-Hub signatures, attempt numbers and timestamps per attempt', async () => {
    const clock = new FakeClock(T0);
    const transport = new ScriptedTransport([ok(500), ok(500), ok(200)], clock);
    const observed: [AttemptOutcome['kind'], number][] = [];
    const outcome = await deliver(
      event,
      sub,
      deps(transport, clock, { onAttempt: (o, _r, n) => observed.push([o.kind, n]) }),
    );

    expect(outcome).toMatchObject({
      kind: 'delivered',
      status: 200,
      attempts: 3,
      lastStatus: 200,
      webhookId: webhookId('evt-1', 'sub-1'),
    });
    expect(observed).toEqual([
      ['retryable', 1],
      ['retryable', 2],
      ['delivered', 3],
    ]);
    expect(clock.sleeps).toEqual([1_000, 3_000]);

    const reqs = transport.requests;
    expect(reqs).toHaveLength(3);
    const body = reqs[0]!.body.toString();
    const hub = signHub(SECRET, body);
    for (const [i, r] of reqs.entries()) {
      expect(r.url).toBe(sub.target);
      expect(r.body.toString()).toBe(body);
      expect(r.body).toBe(reqs[0]!.body); // encoded once, the same bytes on every attempt
      expect(r.headers['x-hub-signature']).toBe(hub.sha1);
      expect(r.headers['x-hub-signature-256']).toBe(hub.sha256);
      expect(r.headers['webhook-id']).toBe(webhookId('evt-1', 'sub-1'));
      expect(r.headers['x-webhook-attempt']).toBe(String(i + 1));
    }
    // Each attempt is stamped with the clock at its send time and signed for that timestamp.
    const sentAt = [T0, T0 + 40 + 1_000, T0 + 40 + 1_000 + 40 + 3_000];
    reqs.forEach((r, i) => {
      expect(r.headers['webhook-timestamp']).toBe(String(Math.floor(sentAt[i]! / 1000)));
      expect(r.headers['webhook-signature']).toBe(
        new Webhook(SECRET).sign(r.headers['webhook-id']!, new Date(sentAt[i]!), body),
      );
    });
    expect(new Set(reqs.map((r) => r.headers['webhook-timestamp'])).size).toBe(3);
    expect(outcome.firstAttemptAt).toBe(T0);
    expect(outcome.lastAttemptAt).toBe(sentAt[2]! + 40);
    expect(JSON.parse(body)).toMatchObject({ timestamp: event.timestamp, payload });
  });

  it('fails at once on 404 (http_4xx), after one attempt and no wait', async () => {
    const clock = new FakeClock(T0);
    const transport = new ScriptedTransport([ok(404), ok(200)]);
    const outcome = await deliver(event, sub, deps(transport, clock));
    expect(outcome).toMatchObject({
      kind: 'failed',
      reason: 'http_4xx',
      attempts: 1,
      lastStatus: 404,
      lastError: 'HTTP 404',
    });
    expect(transport.requests).toHaveLength(1);
    expect(clock.sleeps).toEqual([]);
  });

  it('fails at once on a redirect (http_3xx) and on a refused target (ssrf)', async () => {
    const redirect = await deliver(
      event,
      sub,
      deps(new ScriptedTransport([ok(302, { location: '/x' })]), new FakeClock(T0)),
    );
    expect(redirect).toMatchObject({ kind: 'failed', reason: 'http_3xx', attempts: 1 });
    const refused = await deliver(
      event,
      sub,
      deps(
        new ScriptedTransport([
          { kind: 'error', code: 'TARGET_FORBIDDEN', message: 'loopback', durationMs: 0 },
        ]),
        new FakeClock(T0),
      ),
    );
    expect(refused).toMatchObject({ kind: 'failed', reason: 'ssrf', attempts: 1, lastError: 'loopback' });
  });

  it('gives up after every attempt of the schedule got 503 with retries_exhausted', async () => {
    const clock = new FakeClock(T0);
    const transport = new ScriptedTransport([ok(503)]);
    const outcome = await deliver(event, sub, deps(transport, clock));
    expect(outcome).toMatchObject({
      kind: 'failed',
      reason: 'retries_exhausted',
      attempts: maxAttempts(POLICY),
      lastStatus: 503,
    });
    expect(transport.requests).toHaveLength(maxAttempts(POLICY));
    expect(clock.sleeps).toEqual([1_000, 3_000, 9_000]);
  });

  it('keeps the last network error when retries run out', async () => {
    const outcome = await deliver(
      event,
      sub,
      deps(new ScriptedTransport([netError('ECONNREFUSED')]), new FakeClock(T0)),
    );
    expect(outcome).toMatchObject({ kind: 'failed', reason: 'retries_exhausted', attempts: 4 });
    expect(outcome.lastError).toContain('ECONNREFUSED');
    expect(outcome.lastStatus).toBeUndefined();
  });

  it('honours Retry-After (capped) instead of the backoff; a wait past the in-process budget parks', async () => {
    const clock = new FakeClock(T0);
    const transport = new ScriptedTransport(
      [ok(429, { 'retry-after': '7' }), ok(503, { 'retry-after': '3600' }), ok(204)],
      clock,
    );
    const outcome = await deliver(event, sub, deps(transport, clock));
    // 7 s is slept in process; 3600 s is capped at retryAfterMaxMs (20 s), past inProcessMaxMs (10 s): parked.
    expect(clock.sleeps).toEqual([7_000]);
    expect(outcome).toMatchObject({ kind: 'park', reason: 'retry', attempts: 2, lastStatus: 503 });
    expect(outcome.kind === 'park' && outcome.dueAt).toBe(clock.now() + POLICY.retryAfterMaxMs);
    expect(transport.requests).toHaveLength(2);
  });

  it('ends with aborted when the signal fires during a backoff wait, sending nothing more', async () => {
    const clock = new FakeClock(T0);
    const controller = new AbortController();
    clock.onSleep = () => controller.abort();
    const transport = new ScriptedTransport([ok(503), ok(200)]);
    const outcome = await deliver(event, sub, deps(transport, clock), controller.signal);
    expect(outcome).toMatchObject({ kind: 'aborted', attempts: 1, lastStatus: 503 });
    expect(transport.requests).toHaveLength(1);
  });

  it('does not wait at all when already aborted after a failed attempt', async () => {
    const clock = new FakeClock(T0);
    const controller = new AbortController();
    controller.abort();
    const outcome = await deliver(
      event,
      sub,
      deps(new ScriptedTransport([ok(500)]), clock),
      controller.signal,
    );
    expect(outcome.kind).toBe('aborted');
    expect(clock.sleeps).toEqual([]);
  });

  it('fails one unusable subscription as subscription_invalid without an attempt, never rejects', async () => {
    // A row written by another tool with created_at = 'infinity' loads as an Invalid Date.
    const broken: Subscription = { ...sub, id: 'sub-broken', createdAt: new Date(Number.POSITIVE_INFINITY) };
    const clock = new FakeClock(T0);
    const transport = new ScriptedTransport([ok(200)]);
    const outcome = await deliver(event, broken, deps(transport, clock));
    expect(outcome).toMatchObject({
      kind: 'failed',
      reason: 'subscription_invalid',
      attempts: 0,
      webhookId: webhookId('evt-1', 'sub-broken'),
      firstAttemptAt: T0,
      lastAttemptAt: T0,
    });
    expect(outcome.kind === 'failed' && outcome.lastError).toMatch(/Invalid time value/);
    expect(transport.requests).toHaveLength(0);
    // The same deps keep serving a healthy subscription.
    await expect(deliver(event, sub, deps(transport, clock))).resolves.toMatchObject({ kind: 'delivered' });
  });

  it('sends the plain secret only in legacy mode', async () => {
    const normal = new ScriptedTransport([ok(200)]);
    await deliver(event, sub, deps(normal, new FakeClock(T0)));
    expect(normal.requests[0]!.headers).not.toHaveProperty('x-hook-secret');
    const legacy = new ScriptedTransport([ok(200)]);
    await deliver(event, sub, deps(legacy, new FakeClock(T0), { legacySecretHeader: true }));
    expect(legacy.requests[0]!.headers['x-hook-secret']).toBe(SECRET);
  });
});

describe('deliver: parking', () => {
  const FAR: RetryPolicy = {
    schedule: [1_000, 60_000, 60_000],
    jitter: 0,
    retryAfterMaxMs: 0,
    inProcessMaxMs: 5_000,
  };

  it('sleeps the short waits in process and parks at the first wait past the budget, with its due time', async () => {
    const clock = new FakeClock(T0);
    const transport = new ScriptedTransport([ok(503)], clock);
    const outcome = await deliver(event, sub, deps(transport, clock, { policy: FAR }));
    expect(clock.sleeps).toEqual([1_000]);
    expect(transport.requests).toHaveLength(2);
    expect(outcome).toMatchObject({
      kind: 'park',
      reason: 'retry',
      attempts: 2,
      lastStatus: 503,
      firstAttemptAt: T0,
    });
    expect(outcome.kind === 'park' && outcome.dueAt).toBe(clock.now() + 60_000);
  });

  it('goes on from a parked attempt count: one attempt (single), its number in the header, then parks or ends', async () => {
    const clock = new FakeClock(T0);
    const transport = new ScriptedTransport([ok(503)], clock);
    const d = deps(transport, clock, { policy: FAR });
    const second = await deliver(event, sub, d, undefined, {
      attempt: 2,
      firstAttemptAt: T0 - 5_000,
      single: true,
    });
    // The wait after attempt 2 is 60 s: parked again without a sleep, the first attempt time kept.
    expect(clock.sleeps).toEqual([]);
    expect(second).toMatchObject({ kind: 'park', attempts: 2, firstAttemptAt: T0 - 5_000 });
    expect(transport.requests[0]!.headers['x-webhook-attempt']).toBe('2');
    // Single: even a wait inside the budget parks (the runner never sleeps on a claim).
    const first = await deliver(event, sub, d, undefined, { attempt: 1, single: true });
    expect(first).toMatchObject({ kind: 'park', attempts: 1 });
    expect(first.kind === 'park' && first.dueAt).toBe(clock.now() + 1_000);
    const last = await deliver(event, sub, d, undefined, { attempt: 4, single: true });
    expect(last).toMatchObject({ kind: 'failed', reason: 'retries_exhausted', attempts: 4 });
  });

  it('parks without an attempt while the breaker is open, and reports every attempt to it', async () => {
    const clock = new FakeClock(T0);
    const transport = new ScriptedTransport([ok(503), ok(200)], clock);
    const records: [string, boolean, boolean][] = [];
    let open = false;
    const breakers = {
      admit: () =>
        open ? { kind: 'park' as const, untilMs: T0 + 30_000 } : { kind: 'attempt' as const, probe: false },
      record: (id: string, okay: boolean, probe: boolean) => {
        records.push([id, okay, probe]);
        open = !okay;
      },
    };
    const outcome = await deliver(event, sub, deps(transport, clock, { policy: FAR, breakers }));
    expect(outcome).toMatchObject({ kind: 'park', reason: 'circuit', attempts: 1, dueAt: T0 + 30_000 });
    expect(transport.requests).toHaveLength(1);
    expect(records).toEqual([[sub.id, false, false]]);
  });

  it('gives a probe back as failed when it is aborted before its attempt', async () => {
    const clock = new FakeClock(T0);
    const transport = new ScriptedTransport([ok(200)], clock);
    const records: [string, boolean, boolean][] = [];
    const breakers = {
      admit: () => ({ kind: 'attempt' as const, probe: true }),
      record: (id: string, okay: boolean, probe: boolean) => void records.push([id, okay, probe]),
    };
    const slots = new Semaphore(1);
    expect(slots.acquire()).toBeUndefined(); // the only slot is taken (at once): the delivery waits for it
    const controller = new AbortController();
    const running = deliver(event, sub, deps(transport, clock, { breakers, slots }), controller.signal);
    await flush();
    controller.abort();
    expect(await running).toMatchObject({ kind: 'aborted', attempts: 0 });
    expect(transport.requests).toHaveLength(0);
    expect(records).toEqual([[sub.id, false, true]]);
  });
});

describe('deliver: the bytes of a delivery', () => {
  /** The one request a fresh delivery (own cache of prepared subscriptions, own clock) sends. */
  async function firstRequest(s: Subscription, nowMs: number): Promise<WebhookRequest> {
    const clock = new FakeClock(nowMs);
    const transport = new ScriptedTransport([ok(200)]);
    await deliver(event, s, deps(transport, clock));
    return transport.requests[0]!;
  }

  it('is the same on every instance and after a restart: body and X-Hub signatures depend on event and subscription only', async () => {
    // Two separately built deliveries, as after a crash or a rebalance: fresh caches, clocks an hour apart.
    const a = await firstRequest(sub, T0);
    const b = await firstRequest(sub, T0 + 3_600_000 + 777);
    expect(Buffer.from(b.body).equals(Buffer.from(a.body))).toBe(true);
    expect(b.headers['x-hub-signature']).toBe(a.headers['x-hub-signature']);
    expect(b.headers['x-hub-signature-256']).toBe(a.headers['x-hub-signature-256']);
    expect(b.headers['webhook-id']).toBe(a.headers['webhook-id']);
    // The JWT is issued at the event's time (in seconds), as Tiledesk issues it when it notifies.
    const token = (JSON.parse(a.body.toString()) as { token: string }).token;
    const { payload } = await jwtVerify(token, new TextEncoder().encode(SECRET));
    expect(payload.iat).toBe(Math.floor(event.timestamp / 1000));
  });

  it('issues the JWT per event time: events in other seconds get their own iat, events in the same second share it', async () => {
    const iatOf = async (timestamp: number): Promise<unknown> => {
      const clock = new FakeClock(T0);
      const transport = new ScriptedTransport([ok(200)]);
      await deliver({ ...event, id: `evt-${timestamp}`, timestamp }, sub, deps(transport, clock));
      const token = (JSON.parse(transport.requests[0]!.body.toString()) as { token: string }).token;
      return (await jwtVerify(token, new TextEncoder().encode(SECRET))).payload.iat;
    };
    expect(await iatOf(1_772_366_400_999)).toBe(1_772_366_400);
    expect(await iatOf(1_772_366_401_000)).toBe(1_772_366_401);
    const shared = new PreparedSubscriptions(() => T0);
    const bodies: string[] = [];
    for (const timestamp of [1_772_366_400_001, 1_772_366_400_500, 1_772_366_401_000, 1_772_366_400_002]) {
      const transport = new ScriptedTransport([ok(200)]);
      await deliver({ ...event, timestamp }, sub, deps(transport, new FakeClock(T0), { prepared: shared }));
      bodies.push((JSON.parse(transport.requests[0]!.body.toString()) as { token: string }).token);
    }
    expect(bodies[1]).toBe(bodies[0]);
    expect(bodies[3]).toBe(bodies[0]);
    expect(bodies[2]).not.toBe(bodies[0]);
  });

  it('during a secret rotation overlap signs the JWT and X-Hub with the OLD secret, webhook-signature with both; after it, the new one', async () => {
    const oldSecret = SECRET;
    const newSecret = 'whsec_bmV3LXNlY3JldC1uZXctc2VjcmV0LW5ldy0x';
    const rotated: Subscription = {
      ...sub,
      secret: newSecret,
      previousSecret: oldSecret,
      previousSecretExpiresAt: new Date(T0 + 60_000),
      updatedAt: new Date(T0 - 1_000),
    };
    const jwtKeyedWith = async (q: WebhookRequest, secret: string): Promise<boolean> => {
      const token = (JSON.parse(q.body.toString()) as { token: string }).token;
      return jwtVerify(token, new TextEncoder().encode(secret)).then(
        () => true,
        () => false,
      );
    };
    const standardVerifies = (q: WebhookRequest, secret: string, at: number): boolean => {
      try {
        const wh = new Webhook(secret);
        // standardwebhooks checks the timestamp against the real clock: verify the signature at `at`.
        const sig = wh.sign(String(q.headers['webhook-id']), new Date(at), q.body.toString());
        return String(q.headers['webhook-signature']).split(' ').includes(sig);
      } catch {
        return false;
      }
    };

    const clock = new FakeClock(T0);
    const cache = new PreparedSubscriptions(() => clock.now());
    const during = new ScriptedTransport([ok(200)]);
    await deliver(event, rotated, deps(during, clock, { prepared: cache }));
    const q = during.requests[0]!;
    expect(q.headers['x-hub-signature-256']).toBe(signHub(oldSecret, q.body).sha256);
    expect(q.headers['x-hub-signature']).toBe(signHub(oldSecret, q.body).sha1);
    expect(await jwtKeyedWith(q, oldSecret)).toBe(true);
    expect(await jwtKeyedWith(q, newSecret)).toBe(false);
    expect(standardVerifies(q, newSecret, T0)).toBe(true);
    expect(standardVerifies(q, oldSecret, T0)).toBe(true);

    clock.advance(60_000); // the overlap is over
    const after = new ScriptedTransport([ok(200)]);
    await deliver({ ...event, id: 'evt-after' }, rotated, deps(after, clock, { prepared: cache }));
    const q2 = after.requests[0]!;
    expect(q2.headers['x-hub-signature-256']).toBe(signHub(newSecret, q2.body).sha256);
    expect(await jwtKeyedWith(q2, newSecret)).toBe(true);
    expect(String(q2.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(standardVerifies(q2, newSecret, T0 + 60_000)).toBe(true);
  });

  it('sends the secret of the single-valued signatures in the legacy header during an overlap', async () => {
    const rotated: Subscription = {
      ...sub,
      secret: 'whsec_bmV3LXNlY3JldC1uZXctc2VjcmV0LW5ldy0x',
      previousSecret: SECRET,
      previousSecretExpiresAt: new Date(T0 + 60_000),
    };
    const transport = new ScriptedTransport([ok(200)]);
    await deliver(event, rotated, deps(transport, new FakeClock(T0), { legacySecretHeader: true }));
    expect(transport.requests[0]!.headers['x-hook-secret']).toBe(SECRET);
  });
});

describe('deliver with a Semaphore', () => {
  /** A transport whose requests stay open until the test answers them. */
  class BlockingTransport implements WebhookTransport {
    readonly name = 'got' as const;
    inFlight = 0;
    maxInFlight = 0;
    sent = 0;
    private readonly pending: ((r: TransportResult) => void)[] = [];
    send(): Promise<TransportResult> {
      this.sent++;
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      return new Promise((resolve) => this.pending.push(resolve));
    }
    answerOne(result: TransportResult = ok(200)): void {
      const next = this.pending.shift();
      if (!next) throw new Error('no request pending');
      this.inFlight--;
      next(result);
    }
    async close(): Promise<void> {}
    async destroy(): Promise<void> {}
  }

  it('never has more requests in flight than its capacity', async () => {
    const transport = new BlockingTransport();
    const slots = new Semaphore(2);
    const clock = new FakeClock(T0);
    const events = Array.from({ length: 5 }, (_, i) => ({ ...event, id: `evt-${i}` }));
    const all = Promise.all(events.map((e) => deliver(e, sub, deps(transport, clock, { slots }))));
    await flush();
    expect(transport.inFlight).toBe(2);
    for (let answered = 0; answered < 5; answered++) {
      transport.answerOne();
      await flush();
      expect(transport.inFlight).toBeLessThanOrEqual(2);
    }
    const outcomes = await all;
    expect(outcomes.map((o) => o.kind)).toEqual(Array(5).fill('delivered'));
    expect(transport.sent).toBe(5);
    expect(transport.maxInFlight).toBe(2);
    expect(slots.inUse).toBe(0);
  });

  it('holds no slot during a backoff wait: another delivery goes ahead', async () => {
    const transport = new BlockingTransport();
    const slots = new Semaphore(1);
    let wake!: () => void;
    const clock: Clock = { now: () => T0, sleep: () => new Promise<void>((resolve) => (wake = resolve)) };
    const first = deliver(event, sub, deps(transport, clock, { slots }));
    await flush();
    transport.answerOne(ok(503)); // first delivery now waits before its 2nd attempt
    await flush();
    const second = deliver({ ...event, id: 'evt-2' }, sub, deps(transport, clock, { slots }));
    await flush();
    expect(transport.sent).toBe(2); // the second one got the only slot during the wait
    transport.answerOne(ok(200));
    await expect(second).resolves.toMatchObject({ kind: 'delivered', attempts: 1 });
    wake();
    await flush();
    transport.answerOne(ok(200));
    await expect(first).resolves.toMatchObject({ kind: 'delivered', attempts: 2 });
    expect(slots.inUse).toBe(0);
  });

  /** Settles within a few turns of the event loop, or reports that it did not. */
  async function settledSoon<T>(p: Promise<T>): Promise<T | 'still pending'> {
    let result: T | 'still pending' = 'still pending';
    void p.then((v) => (result = v));
    for (let i = 0; i < 5; i++) await flush();
    return result;
  }

  it('does not send when aborted while waiting for a global slot: the wait ends at once, no attempt', async () => {
    const transport = new BlockingTransport();
    const slots = new Semaphore(1);
    const clock = new FakeClock(T0);
    const holder = deliver({ ...event, id: 'evt-holder' }, sub, deps(transport, clock, { slots }));
    await flush();
    const controller = new AbortController();
    const late = deliver(event, sub, deps(transport, clock, { slots }), controller.signal);
    await flush();
    expect(transport.sent).toBe(1); // `late` waits for the only slot
    controller.abort();
    await expect(settledSoon(late)).resolves.toMatchObject({ kind: 'aborted', attempts: 0 });
    transport.answerOne(ok(200));
    await expect(holder).resolves.toMatchObject({ kind: 'delivered' });
    await flush();
    expect(transport.sent).toBe(1); // the slot freed by `holder` did not wake the aborted delivery
    expect(slots.inUse).toBe(0);
  });

  it('does not send when aborted while waiting for its origin slot, and leaks no slot', async () => {
    const transport = new BlockingTransport();
    const slots = new Semaphore(8);
    const originSlots = new OriginSlots(1);
    const clock = new FakeClock(T0);
    const holder = deliver(
      { ...event, id: 'evt-holder' },
      sub,
      deps(transport, clock, { slots, originSlots }),
    );
    await flush();
    const controller = new AbortController();
    const late = deliver(event, sub, deps(transport, clock, { slots, originSlots }), controller.signal);
    await flush();
    controller.abort();
    await expect(settledSoon(late)).resolves.toMatchObject({ kind: 'aborted', attempts: 0 });
    transport.answerOne(ok(200));
    await holder;
    await flush();
    expect(transport.sent).toBe(1);
    expect(slots.inUse).toBe(0);
    expect(originSlots.size).toBe(0);
  });

  it('does not send when the abort comes as the slot is granted (the signal is checked after the wait)', async () => {
    const transport = new ScriptedTransport([ok(200)]);
    const controller = new AbortController();
    // A semaphore whose grant arrives in the same turn as the abort: the wait itself cannot see it.
    const slots = new Semaphore(1);
    const acquire = slots.acquire.bind(slots);
    slots.acquire = () => {
      const got = acquire();
      controller.abort();
      return got;
    };
    const outcome = await deliver(
      event,
      sub,
      deps(transport, new FakeClock(T0), { slots }),
      controller.signal,
    );
    expect(outcome).toMatchObject({ kind: 'aborted', attempts: 0 });
    expect(transport.requests).toHaveLength(0);
    expect(slots.inUse).toBe(0);
  });

  it('releases its slot when the transport throws', async () => {
    const slots = new Semaphore(1);
    const throwing: WebhookTransport = {
      name: 'undici',
      send: () => Promise.reject(new Error('transport bug')),
      close: async () => undefined,
      destroy: async () => undefined,
    };
    // The transport contract is to report, not throw; if one does anyway, the slot must not leak and the
    // delivery must not reject (a rejection would fail the whole record): it counts as a network error.
    const outcome = await deliver(event, sub, deps(throwing, new FakeClock(T0), { slots }));
    expect(outcome).toMatchObject({
      kind: 'failed',
      reason: 'retries_exhausted',
      attempts: maxAttempts(POLICY),
    });
    expect(outcome.kind === 'failed' && outcome.lastError).toContain('transport bug');
    expect(slots.inUse).toBe(0);
  });
});
