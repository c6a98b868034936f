import { describe, expect, it } from '@jest/globals';
import pino from 'pino';
import { Registry } from 'prom-client';
import { systemClock } from '../../../src/clock.js';
import type { DeadLetterRecord } from '../../../src/dead-letter/dead-letter-record.js';
import type { BreakerGate, DeliverDeps } from '../../../src/delivery/deliver.js';
import { PreparedSubscriptions } from '../../../src/delivery/prepared-subscription.js';
import { Semaphore } from '../../../src/delivery/semaphore.js';
import { webhookId } from '../../../src/delivery/webhook-id.js';
import { createMetrics } from '../../../src/metrics/metrics.js';
import { ParkedRunner } from '../../../src/parking/parked-runner.js';
import type { ClaimedDelivery, DeliveryStore, FinishUpdate } from '../../../src/parking/types.js';
import type { Subscription } from '../../../src/subscriptions/types.js';
import type { WebhookRequest, WebhookTransport } from '../../../src/transport/types.js';
import { memoryDeliveryStore } from '../../support/memory-delivery-store.js';
import { waitFor } from '../../support/wait.js';

const sub: Subscription = {
  id: 'sub-1',
  idProject: 'P1',
  event: 'request.create',
  target: 'https://crm.example.com/hooks',
  secret: 's3cret',
  previousSecret: null,
  previousSecretExpiresAt: null,
  global: false,
  enabled: true,
  createdBy: 'u',
  createdAt: new Date(0),
  updatedAt: new Date(0),
  ordering: 'concurrent',
  disabledReason: null,
  disabledAt: null,
};

function claimed(over: Partial<ClaimedDelivery> = {}): ClaimedDelivery {
  return {
    id: '1',
    claim: 1,
    subscriptionId: sub.id,
    webhookId: 'msg_1',
    lane: null,
    attempts: 2,
    dueAt: Date.now(),
    leaseExpired: false,
    parkedReason: 'retry',
    subscriptionDeleted: false,
    subscriptionDisabled: null,
    firstAttemptAt: Date.now() - 10_000,
    lastStatus: 503,
    lastError: 'HTTP 503',
    event: {
      id: 'e1',
      event: 'request.create',
      idProject: 'P1',
      timestamp: Date.now() - 20_000,
      payload: Buffer.from('{"id":"e1"}'),
      encoding: 'json',
    },
    record: {
      topic: 't',
      partition: 0,
      offset: '7',
      timestamp: '0',
      key: null,
      value: Buffer.from('{}'),
      headers: {},
    },
    ...over,
  };
}

/** A store that hands out `rows` once, then nothing, and records what the runner writes back. */
function scriptedStore(rows: ClaimedDelivery[], o: { failClaims?: number } = {}) {
  const finished: FinishUpdate[] = [];
  let failClaims = o.failClaims ?? 0;
  const base = memoryDeliveryStore();
  const store: DeliveryStore = {
    ...base,
    async claim() {
      if (failClaims > 0) {
        failClaims--;
        throw new Error('connect ECONNREFUSED');
      }
      return rows.splice(0);
    },
    async finish(_owner, updates) {
      finished.push(...updates);
    },
  };
  return { store, finished };
}

function runner(
  store: DeliveryStore,
  status: number,
  o: { breakers?: BreakerGate; schedule?: number[]; slots?: Semaphore } = {},
) {
  const sent: WebhookRequest[] = [];
  const dead: DeadLetterRecord[] = [];
  const transport: WebhookTransport = {
    name: 'undici',
    send: async (r) => (sent.push(r), { kind: 'response', status, headers: {}, durationMs: 1 }),
    close: async () => undefined,
    destroy: async () => undefined,
  };
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const deliverDeps: DeliverDeps = {
    transport,
    prepared: new PreparedSubscriptions(() => Date.now()),
    policy: {
      schedule: o.schedule ?? [1_000, 1_000, 60_000],
      jitter: 0,
      retryAfterMaxMs: 0,
      inProcessMaxMs: 5_000,
    },
    clock: systemClock,
    random: () => 0,
    slots: o.slots ?? new Semaphore(8),
    userAgent: 'ua',
    legacySecretHeader: false,
    breakers: o.breakers,
  };
  const logger = pino({ level: 'silent' });
  const r = new ParkedRunner({
    store,
    owner: 'me',
    deliverDeps,
    settle: {
      deadLetters: { write: async (x) => (dead.push(x), true), start: async () => {}, stop: async () => {} },
      metrics,
      logger,
    },
    subscription: (id) => (id === sub.id ? sub : undefined),
    clock: systemClock,
    metrics,
    logger,
    pollIntervalMs: 20,
    claimBatch: 10,
    leaseMs: 6_000,
    deliveryTimeoutMs: 1_000,
    maxInFlight: 10,
    retentionMs: 60_000,
  });
  return { r, sent, dead };
}

describe('ParkedRunner', () => {
  it('delivers a claimed row with its attempt number going on, and writes it back as delivered', async () => {
    const { store, finished } = scriptedStore([claimed()]);
    const { r, sent } = runner(store, 200);
    r.start();
    await waitFor(() => finished.length === 1, { timeoutMs: 5_000 });
    await r.stop();
    expect(finished[0]).toMatchObject({ kind: 'delivered', id: '1', attempts: 3, status: 200 });
    expect(sent[0]!.headers['x-webhook-attempt']).toBe('3');
    expect(sent[0]!.headers['webhook-id']).toBe(webhookId('e1', sub.id)); // as on its first attempt
  });

  it('parks a failed attempt again at its next schedule step', async () => {
    const { store, finished } = scriptedStore([claimed()]);
    const { r } = runner(store, 503);
    const before = Date.now();
    r.start();
    await waitFor(() => finished.length === 1, { timeoutMs: 5_000 });
    await r.stop();
    expect(finished[0]).toMatchObject({ kind: 'reschedule', attempts: 3, reason: 'retry', lastStatus: 503 });
    const due = (finished[0] as { dueAt: number }).dueAt;
    expect(due).toBeGreaterThanOrEqual(before + 60_000);
  });

  it('dead-letters the last attempt with the original record and marks the row dead', async () => {
    const { store, finished } = scriptedStore([claimed({ attempts: 3 })]);
    const { r, dead } = runner(store, 503);
    r.start();
    await waitFor(() => finished.length === 1, { timeoutMs: 5_000 });
    await r.stop();
    expect(finished[0]).toMatchObject({ kind: 'dead', reason: 'retries_exhausted', attempts: 4 });
    expect(dead).toHaveLength(1);
    expect(dead[0]!.headers['dlq-reason']).toBe('retries_exhausted');
    expect(dead[0]!.headers['dlq-webhook-id']).toBe(webhookId('e1', sub.id));
    expect(dead[0]!.value?.toString()).toBe('{}');
  });

  it('dead-letters rows of deleted and health-disabled subscriptions without an attempt', async () => {
    const { store, finished } = scriptedStore([
      claimed({ id: '1', subscriptionDeleted: true }),
      claimed({ id: '2', webhookId: 'msg_2', subscriptionDisabled: 'gone' }),
    ]);
    const { r, sent, dead } = runner(store, 200);
    r.start();
    await waitFor(() => finished.length === 2, { timeoutMs: 5_000 });
    await r.stop();
    expect(sent).toHaveLength(0);
    expect(finished.map((f) => [f.id, f.kind, (f as { reason?: string }).reason]).sort()).toEqual([
      ['1', 'dead', 'subscription_deleted'],
      ['2', 'dead', 'subscription_disabled'],
    ]);
    expect(dead.map((d) => d.headers['dlq-reason']).sort()).toEqual([
      'subscription_deleted',
      'subscription_disabled',
    ]);
  });

  it('parks again without an attempt while the breaker is open, and dead-letters once the schedule is spent', async () => {
    const open: BreakerGate = {
      admit: () => ({ kind: 'park', untilMs: Date.now() + 30_000 }),
      record: () => undefined,
    };
    const fresh = scriptedStore([claimed({ firstAttemptAt: Date.now() - 1_000 })]);
    const a = runner(fresh.store, 200, { breakers: open });
    a.r.start();
    await waitFor(() => fresh.finished.length === 1, { timeoutMs: 5_000 });
    await a.r.stop();
    expect(fresh.finished[0]).toMatchObject({ kind: 'reschedule', reason: 'circuit', attempts: 2 });
    expect(a.sent).toHaveLength(0);
    const old = scriptedStore([claimed({ firstAttemptAt: Date.now() - 70_000 })]);
    const b = runner(old.store, 200, { breakers: open });
    b.r.start();
    await waitFor(() => old.finished.length === 1, { timeoutMs: 5_000 });
    await b.r.stop();
    expect(old.finished[0]).toMatchObject({ kind: 'dead', reason: 'retries_exhausted' });
    expect(b.dead).toHaveLength(1);
  });

  it('gives a claim back, unattempted, when it could not start inside its lease', async () => {
    const slots = new Semaphore(1);
    // Taken at once; no slot frees up: the attempt cannot start before leaseMs - timeout - margin (3 s)
    expect(slots.acquire()).toBeUndefined();
    const { store, finished } = scriptedStore([claimed()]);
    const { r, sent } = runner(store, 200, { slots });
    r.start();
    await waitFor(() => finished.length === 1, { timeoutMs: 10_000 });
    await r.stop();
    expect(sent).toHaveLength(0);
    expect(finished[0]).toMatchObject({ kind: 'reschedule', attempts: 2 });
  });

  it('pauses while the store is down and resumes when it answers', async () => {
    const { store, finished } = scriptedStore([claimed()], { failClaims: 2 });
    const { r } = runner(store, 200);
    r.start();
    await waitFor(() => finished.length === 1, { timeoutMs: 5_000 });
    await r.stop();
    expect(finished[0]).toMatchObject({ kind: 'delivered' });
  });
});
