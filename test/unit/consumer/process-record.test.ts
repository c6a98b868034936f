import { describe, expect, it } from '@jest/globals';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { Clock } from '../../../src/clock.js';
import { Lanes } from '../../../src/consumer/lanes.js';
import { Outages } from '../../../src/consumer/outages.js';
import { processRecord, type PipelineDeps } from '../../../src/consumer/process-record.js';
import type { DeadLetterRecord } from '../../../src/dead-letter/dead-letter-record.js';
import { PreparedSubscriptions } from '../../../src/delivery/prepared-subscription.js';
import { Semaphore } from '../../../src/delivery/semaphore.js';
import { ConnectorError, ErrorCode } from '../../../src/errors.js';
import { decodeRecord, type DecodeResult } from '../../../src/events/decode-record.js';
import type { RecordCoordinates } from '../../../src/events/event.js';
import { createMetrics } from '../../../src/metrics/metrics.js';
import { Parking } from '../../../src/parking/parking.js';
import type { SubscriptionIndex } from '../../../src/subscriptions/types.js';
import { memoryDeliveryStore } from '../../support/memory-delivery-store.js';
import { subscription } from '../../support/subscription.js';
import type { WebhookRequest, WebhookTransport } from '../../../src/transport/types.js';

const sub = subscription();
const index: SubscriptionIndex = {
  match: (e, p) => (e === sub.event && p === sub.idProject ? [sub] : []),
  get: () => sub,
  size: 1,
};
const clock: Clock = { now: () => 1_000, sleep: () => Promise.resolve() };
const json: PipelineDeps['decode'] = (value, at) => decodeRecord(value, at, { maxRecordBytes: 10_000 });

function deps(
  decode: PipelineDeps['decode'],
  sent: string[],
  deadLetters: DeadLetterRecord[] = [],
): PipelineDeps {
  const transport: WebhookTransport = {
    name: 'undici',
    send: async (r: WebhookRequest) => {
      sent.push((JSON.parse(r.body.toString()) as { payload: { n: number } }).payload.n.toString());
      return { kind: 'response', status: 200, headers: {}, durationMs: 1 };
    },
    close: async () => undefined,
    destroy: async () => undefined,
  };
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  return {
    decode,
    subscriptions: () => index,
    deliverDeps: {
      transport,
      prepared: new PreparedSubscriptions(() => 1_000),
      clock,
      random: () => 0.5,
      slots: new Semaphore(10),
      userAgent: 'ua',
      legacySecretHeader: false,
      policy: { schedule: [1, 2], jitter: 0.5, retryAfterMaxMs: 10, inProcessMaxMs: 10 },
    },
    lanes: new Lanes(),
    parking: new Parking({
      store: memoryDeliveryStore(),
      clock,
      metrics,
      logger: pino({ level: 'silent' }),
      subscriptionMaxPending: 1_000,
      laneMaxPending: 1_000,
      laneRecheckMs: 1_000,
    }),
    keyLanes: new Lanes(),
    deadLetters: {
      write: async (r) => (deadLetters.push(r), true),
      start: async () => undefined,
      stop: async () => undefined,
    },
    outages: new Outages(),
    registryFailure: async () => 'outage',
    metrics,
    logger: pino({ level: 'silent' }),
    clock,
  };
}

const record = (n: number, key: string | null = 'P1') => ({
  topic: 't',
  partition: 0,
  offset: String(n),
  timestamp: '0',
  key: key === null ? null : Buffer.from(key),
  headers: {},
  value: Buffer.from(
    JSON.stringify({ id: `e${n}`, event: 'request.create', id_project: 'P1', timestamp: 1, payload: { n } }),
  ),
});

describe('processRecord', () => {
  it('keeps record order per key even when an earlier record decodes slower (e.g. a schema lookup)', async () => {
    const sent: string[] = [];
    let releaseFirst!: () => void;
    const firstDecoded = new Promise<void>((resolve) => (releaseFirst = resolve));
    // Record 0 waits (as a registry lookup does); 1 and 2 decode synchronously (plain JSON): they must
    // still queue behind 0, although nothing asynchronous happens on their own path.
    const decode = (value: Buffer | null, at: RecordCoordinates): DecodeResult | Promise<DecodeResult> =>
      at.offset === '0'
        ? firstDecoded.then(() => decodeRecord(value, at, { maxRecordBytes: 10_000 }))
        : decodeRecord(value, at, { maxRecordBytes: 10_000 });
    const d = deps(decode, sent);
    const signal = new AbortController().signal;
    const results = [0, 1, 2].map((n) => processRecord(record(n), d, signal));
    // The signal, instead of a sleep: a record of another key, taken after 1 and 2 and decoded the same
    // way, is sent and done. Had 1 and 2 not waited behind record 0, they would have been sent before it.
    expect(await processRecord(record(3, 'P2'), d, signal)).toBe('done');
    expect(sent).toEqual(['3']); // records 1 and 2 wait behind record 0 of the same key
    releaseFirst();
    expect(await Promise.all(results)).toEqual(['done', 'done', 'done']);
    expect(sent).toEqual(['3', '0', '1', '2']);
  });

  it('synchronous intakes keep key order and leave no key lane behind', async () => {
    const sent: string[] = [];
    const d = deps((value, at) => decodeRecord(value, at, { maxRecordBytes: 10_000 }), sent);
    const signal = new AbortController().signal;
    const results = [0, 1, 2, 3].map((n) => processRecord(record(n, n % 2 === 0 ? 'A' : 'B'), d, signal));
    expect(d.keyLanes.active).toBe(0); // intake finished within each call
    expect(await Promise.all(results)).toEqual(['done', 'done', 'done', 'done']);
    expect(sent.filter((n) => Number(n) % 2 === 0)).toEqual(['0', '2']);
    expect(sent.filter((n) => Number(n) % 2 === 1)).toEqual(['1', '3']);
  });

  it('does not hold other keys behind a slow record', async () => {
    const sent: string[] = [];
    let release!: () => void;
    const slow = new Promise<void>((resolve) => (release = resolve));
    const d = deps(async (value, at) => {
      if (at.offset === '0') await slow;
      return decodeRecord(value, at, { maxRecordBytes: 10_000 });
    }, sent);
    const signal = new AbortController().signal;
    const first = processRecord(record(0, 'P1'), d, signal);
    expect(await processRecord(record(1, 'P2'), d, signal)).toBe('done');
    expect(sent).toEqual(['1']);
    release();
    expect(await first).toBe('done');
  });

  it('dead-letters a poison record and resolves done; a rejected decoder counts as undecodable, not a crash', async () => {
    const dls: DeadLetterRecord[] = [];
    const d = deps(
      async () => {
        throw new Error('decoder bug');
      },
      [],
      dls,
    );
    expect(await processRecord(record(0), d, new AbortController().signal)).toBe('done');
    expect(dls[0]!.headers['dlq-reason']).toBe('undecodable');
  });

  it('a decoder that throws synchronously makes the record undecodable, not a crash', async () => {
    const dls: DeadLetterRecord[] = [];
    const d = deps(
      () => {
        throw new Error('decoder bug');
      },
      [],
      dls,
    );
    expect(await processRecord(record(0), d, new AbortController().signal)).toBe('done');
    expect(dls.map((r) => r.headers['dlq-reason'])).toEqual(['undecodable']);
    expect(dls[0]!.headers['dlq-error']).toBe('decoder failed: decoder bug');
  });

  it('a synchronously decoded poison record holds its key until its dead letter is acknowledged', async () => {
    const sent: string[] = [];
    const dls: DeadLetterRecord[] = [];
    let acknowledge!: () => void;
    const acknowledged = new Promise<void>((resolve) => (acknowledge = resolve));
    const d: PipelineDeps = {
      ...deps(json, sent, dls),
      deadLetters: {
        write: async (r) => (await acknowledged, dls.push(r), true),
        start: async () => undefined,
        stop: async () => undefined,
      },
    };
    const signal = new AbortController().signal;
    const poison = processRecord({ ...record(0), value: Buffer.from('{"event":') }, d, signal);
    const after = processRecord(record(1), d, signal); // same key, valid
    // Another key, taken later, is sent and done: record 1 would have been sent by now, had it not waited.
    expect(await processRecord(record(2, 'P2'), d, signal)).toBe('done');
    expect(sent).toEqual(['2']);
    acknowledge();
    expect(await Promise.all([poison, after])).toEqual(['done', 'done']);
    expect(sent).toEqual(['2', '1']);
    expect(dls.map((r) => r.headers['dlq-reason'])).toEqual(['undecodable']);
  });

  it('waits out a stale snapshot holding its key; records taken once it is usable keep key order', async () => {
    const sent: string[] = [];
    let stale = true;
    let asleep!: () => void;
    const sleeping = new Promise<void>((resolve) => (asleep = resolve));
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    const d: PipelineDeps = {
      ...deps(json, sent),
      subscriptions: () => (stale ? null : index),
      clock: { now: () => 1_000, sleep: () => (asleep(), woken) },
    };
    const signal = new AbortController().signal;
    const first = processRecord(record(0), d, signal);
    await sleeping; // record 0 waits for a usable snapshot
    stale = false;
    const second = processRecord(record(1), d, signal); // same key: behind record 0
    expect(await processRecord(record(2, 'P2'), d, signal)).toBe('done');
    expect(sent).toEqual(['2']);
    wake();
    expect(await Promise.all([first, second])).toEqual(['done', 'done']);
    expect(sent).toEqual(['2', '0', '1']);
  });

  it('returns aborted, not done, when the dead-letter write is abandoned (shutdown)', async () => {
    const d = {
      ...deps(async () => ({ ok: false, reason: 'invalid', message: 'bad' }) as DecodeResult, []),
      deadLetters: { write: async () => false, start: async () => undefined, stop: async () => undefined },
    };
    expect(await processRecord(record(0), d, new AbortController().signal)).toBe('aborted');
  });
  describe('schema registry failures (never dead-lettered)', () => {
    /** A decoder failing `failures` times with SCHEMA_REGISTRY_UNAVAILABLE, then decoding; and the sleeps taken. */
    function failingThenOk(failures: number, scope: 'outage' | 'scoped') {
      const sent: string[] = [];
      const dls: DeadLetterRecord[] = [];
      const sleeps: number[] = [];
      let calls = 0;
      const base = deps(
        async (value, at) => {
          if (calls++ < failures) {
            throw new ConnectorError(ErrorCode.SCHEMA_REGISTRY_UNAVAILABLE, 'schema registry: HTTP 403');
          }
          return decodeRecord(value, at, { maxRecordBytes: 10_000 });
        },
        sent,
        dls,
      );
      const reports: string[] = [];
      const d: PipelineDeps = {
        ...base,
        clock: { now: () => 1_000, sleep: async (ms) => void sleeps.push(ms) },
        registryFailure: async () => (reports.push(scope), scope),
        outageRetryMs: 1_000,
      };
      return { d, sent, dls, sleeps, reports };
    }

    it('a failure the registry probe calls scoped (one subject 401/403) retries that record with backoff, pausing nothing', async () => {
      const { d, sent, dls, sleeps, reports } = failingThenOk(9, 'scoped');
      expect(await processRecord(record(0), d, new AbortController().signal)).toBe('done');
      expect(sent).toEqual(['0']);
      expect(dls).toEqual([]);
      expect(reports).toHaveLength(9);
      expect(sleeps).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
      expect(d.outages.any).toBe(false);
    });

    it('an outage is retried every outageRetryMs', async () => {
      const { d, sent, dls, sleeps } = failingThenOk(3, 'outage');
      expect(await processRecord(record(0), d, new AbortController().signal)).toBe('done');
      expect(sent).toEqual(['0']);
      expect(dls).toEqual([]);
      expect(sleeps).toEqual([1_000, 1_000, 1_000]);
    });

    it('an aborted record stops waiting and resolves aborted, dead-lettering nothing', async () => {
      const { d, dls } = failingThenOk(Infinity, 'outage');
      const ac = new AbortController();
      const d2: PipelineDeps = {
        ...d,
        clock: { now: () => 1_000, sleep: async () => ac.abort() },
      };
      expect(await processRecord(record(0), d2, ac.signal)).toBe('aborted');
      expect(dls).toEqual([]);
    });
  });
});
