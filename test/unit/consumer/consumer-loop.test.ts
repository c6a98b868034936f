/**
 * The consumer loop's offset guarantees, driven through a scripted stand-in for the kafkajs consumer (the
 * integration tests run the same loop against the real broker): commits cover only the done prefix of
 * partitions still owned, a revoked partition's late completions never commit, refetched records are not
 * taken twice, and a full window pauses only its partition.
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { EventEmitter } from 'node:events';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { ConsumerConfig, EachBatchPayload, Kafka } from 'kafkajs';
import { ConsumerLoop, type ConsumerLoopOptions } from '../../../src/consumer/consumer-loop.js';
import { Outages } from '../../../src/consumer/outages.js';
import type { RecordResult } from '../../../src/consumer/process-record.js';
import type { InboundRecord } from '../../../src/events/event.js';
import { createMetrics, type Metrics } from '../../../src/metrics/metrics.js';

const EVENTS = {
  GROUP_JOIN: 'join',
  REBALANCING: 'rebalancing',
  CRASH: 'crash',
  HEARTBEAT: 'heartbeat',
  COMMIT_OFFSETS: 'commit_offsets',
};

class FakeConsumer extends EventEmitter {
  readonly events = EVENTS;
  readonly commits: { topic: string; partition: number; offset: string }[][] = [];
  readonly paused = new Set<string>();
  /** false: kafkajs's runner is stopped, and commitOffsets resolves without committing (as kafkajs does). */
  running = true;
  /** How many of the next commits the broker refuses (a rebalance starting, a coordinator moving). */
  refuseCommits = 0;
  eachBatch!: (p: EachBatchPayload) => Promise<void>;
  override on(event: string, listener: (...args: unknown[]) => void): this {
    return super.on(event, listener);
  }
  async connect(): Promise<void> {}
  readonly subscriptions: { fromBeginning?: boolean }[] = [];
  readonly seeks: { topic: string; partition: number; offset: string }[] = [];
  async subscribe(o: { fromBeginning?: boolean }): Promise<void> {
    this.subscriptions.push(o);
  }
  seek(o: { topic: string; partition: number; offset: string }): void {
    this.seeks.push(o);
  }
  async disconnect(): Promise<void> {}
  async run(o: { eachBatch: (p: EachBatchPayload) => Promise<void> }): Promise<void> {
    this.eachBatch = o.eachBatch;
  }
  async commitOffsets(offsets: { topic: string; partition: number; offset: string }[]): Promise<void> {
    if (!this.running) return;
    if (this.refuseCommits > 0) {
      this.refuseCommits--;
      throw new Error('The coordinator is not aware of this member (REBALANCE_IN_PROGRESS)');
    }
    this.commits.push(offsets);
    this.emit(EVENTS.COMMIT_OFFSETS, { payload: { topics: offsets } });
  }
  crash(restart: boolean): void {
    this.running = false;
    this.emit(EVENTS.CRASH, { payload: { error: new Error('boom'), restart } });
  }
  pause(tps: { topic: string; partitions: number[] }[]): void {
    for (const { topic, partitions } of tps) for (const p of partitions) this.paused.add(`${topic}/${p}`);
  }
  resume(tps: { topic: string; partitions: number[] }[]): void {
    for (const { topic, partitions } of tps) for (const p of partitions) this.paused.delete(`${topic}/${p}`);
  }
  join(memberId: string, assignment: Record<string, number[]>): void {
    this.emit(EVENTS.GROUP_JOIN, { payload: { memberId, memberAssignment: assignment } });
  }
  /** Delivers a batch; returns the offsets the loop resolved (its fetch position). */
  async batch(topic: string, partition: number, offsets: number[]): Promise<string[]> {
    const resolved: string[] = [];
    await this.eachBatch({
      batch: {
        topic,
        partition,
        messages: offsets.map((o) => ({
          offset: String(o),
          key: null,
          value: Buffer.from('{}'),
          timestamp: '0',
          headers: {},
        })),
      },
      resolveOffset: (o: string) => resolved.push(o),
      isRunning: () => true,
      isStale: () => false,
    } as unknown as EachBatchPayload);
    return resolved;
  }
}

/** Records the processing started and lets the test finish each one. */
class Work {
  readonly started: InboundRecord[] = [];
  private readonly pending = new Map<string, (r: RecordResult) => void>();
  readonly process = (record: InboundRecord): Promise<RecordResult> => {
    this.started.push(record);
    return new Promise((resolve) => this.pending.set(`${record.partition}/${record.offset}`, resolve));
  };
  finish(partition: number, offset: number, result: RecordResult = 'done'): void {
    this.pending.get(`${partition}/${offset}`)!(result);
  }
}

interface Setup {
  fake: FakeConsumer;
  work: Work;
  loop: ConsumerLoop;
  metrics: Metrics;
  fatal: unknown[];
  /** The options the loop created its kafkajs consumer with. */
  options: () => ConsumerConfig | undefined;
}

/** The admin calls placing new partitions: committed offsets ('-1' = none) and end offsets, per partition. */
function fakeAdmin(committed: Record<number, string>, ends: Record<number, string>) {
  const parts = (m: Record<number, string>) =>
    Object.entries(m).map(([p, offset]) => ({ partition: Number(p), offset }));
  return {
    connect: async () => {},
    disconnect: async () => {},
    fetchOffsets: async () => [{ topic: 't', partitions: parts(committed) }],
    fetchTopicOffsets: async () => parts(ends).map((p) => ({ ...p, high: p.offset, low: '0' })),
  };
}

function setup(
  maxInFlight = 100,
  process?: ConsumerLoopOptions['process'],
  admin?: ReturnType<typeof fakeAdmin>,
  now: () => number = Date.now,
): Setup {
  const fake = new FakeConsumer();
  const work = new Work();
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const fatal: unknown[] = [];
  let consumerConfig: ConsumerConfig | undefined;
  const kafka = {
    consumer: (config: ConsumerConfig) => {
      consumerConfig = config;
      return fake;
    },
    admin: () => admin,
  } as unknown as Kafka;
  const loop = new ConsumerLoop({
    kafka,
    groupId: 'g',
    topics: ['t'],
    fromBeginning: admin === undefined,
    sessionTimeoutMs: 30_000,
    maxInFlightPerPartition: maxInFlight,
    commitIntervalMs: 1_000_000,
    drainTimeoutMs: 100,
    process: process ?? work.process,
    outages: new Outages(),
    metrics,
    logger: pino({ level: 'silent' }),
    now,
    onFatal: (err) => fatal.push(err),
  });
  return { fake, work, loop, metrics, fatal, options: () => consumerConfig };
}

const counter = async (c: { get(): Promise<{ values: { value: number; labels: object }[] }> }, labels = {}) =>
  (await c.get()).values
    .filter((v) => Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x))
    .reduce((sum, v) => sum + v.value, 0);

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !condition(); i++) await tick();
  expect(condition()).toBe(true);
}
const lastCommit = (fake: FakeConsumer): Record<string, string> =>
  Object.fromEntries((fake.commits.at(-1) ?? []).map((c) => [`${c.topic}/${c.partition}`, c.offset]));

describe('ConsumerLoop', () => {
  it('commits only the contiguous done prefix, whatever order records finish in', async () => {
    const { fake, work, loop } = setup();
    await loop.start();
    fake.join('m1', { t: [0] });
    expect(await fake.batch('t', 0, [0, 1, 2, 3])).toEqual(['0', '1', '2', '3']);
    work.finish(0, 2);
    work.finish(0, 3);
    await tick();
    await loop.commit();
    expect(fake.commits).toHaveLength(0); // offset 0 is unfinished: nothing to commit
    work.finish(0, 0);
    await tick();
    await loop.commit();
    expect(lastCommit(fake)).toEqual({ 't/0': '1' });
    work.finish(0, 1);
    await tick();
    await loop.commit();
    expect(lastCommit(fake)).toEqual({ 't/0': '4' });
  });

  it('never commits a revoked partition, even when its records finish after the revoke', async () => {
    const { fake, work, loop } = setup();
    await loop.start();
    fake.join('m1', { t: [0, 1] });
    await fake.batch('t', 0, [0, 1]);
    await fake.batch('t', 1, [0]);
    fake.join('m1', { t: [1] }); // partition 0 goes to another member
    work.finish(0, 0);
    work.finish(0, 1);
    work.finish(1, 0);
    await tick();
    await loop.commit();
    expect(lastCommit(fake)).toEqual({ 't/1': '1' });
    // A late batch of the revoked partition is not taken.
    expect(await fake.batch('t', 0, [2])).toEqual([]);
    expect(work.started.filter((r) => r.partition === 0)).toHaveLength(2);
  });

  it('at stop, a final commit the broker refuses is tried again: the drained work is not redelivered', async () => {
    const { fake, work, loop } = setup();
    await loop.start();
    fake.join('m1', { t: [0] });
    await fake.batch('t', 0, [0, 1]);
    work.finish(0, 0);
    work.finish(0, 1);
    await tick();
    fake.refuseCommits = 2;
    await loop.stop();
    expect(fake.refuseCommits).toBe(0);
    expect(lastCommit(fake)).toEqual({ 't/0': '2' });
  });

  it('an aborted record (shutdown, revoke) is not done and holds the commit', async () => {
    const { fake, work, loop } = setup();
    await loop.start();
    fake.join('m1', { t: [0] });
    await fake.batch('t', 0, [0, 1]);
    work.finish(0, 0, 'aborted');
    work.finish(0, 1);
    await tick();
    await loop.commit();
    expect(fake.commits).toHaveLength(0);
  });

  it('keeps a partition kept across a rebalance, and does not take its refetched records twice', async () => {
    const { fake, work, loop } = setup();
    await loop.start();
    fake.join('m1', { t: [0] });
    await fake.batch('t', 0, [0, 1, 2]);
    work.finish(0, 0);
    fake.join('m1', { t: [0, 1] }); // same member, partition 0 kept: kafkajs refetches from the last commit
    expect(await fake.batch('t', 0, [0, 1, 2, 3])).toEqual(['0', '1', '2', '3']);
    expect(work.started.map((r) => r.offset)).toEqual(['0', '1', '2', '3']);
    work.finish(0, 1);
    work.finish(0, 2);
    work.finish(0, 3);
    await tick();
    await loop.commit();
    expect(lastCommit(fake)).toEqual({ 't/0': '4' });
  });

  it('starts over when the member id changed (it was expelled): old work never commits', async () => {
    const { fake, work, loop } = setup();
    await loop.start();
    fake.join('m1', { t: [0] });
    await fake.batch('t', 0, [5]);
    fake.join('m2', { t: [0] }); // a new member id: the partition may have moved in between
    work.finish(0, 5);
    await tick();
    await loop.commit();
    expect(fake.commits).toHaveLength(0);
    await fake.batch('t', 0, [7]);
    work.finish(0, 7);
    await tick();
    await loop.commit();
    expect(lastCommit(fake)).toEqual({ 't/0': '8' });
  });

  it('pauses only the partition whose window is full, leaves the rest for a refetch, and resumes at half', async () => {
    const { fake, work, loop } = setup(2);
    await loop.start();
    fake.join('m1', { t: [0, 1] });
    expect(await fake.batch('t', 0, [0, 1, 2, 3])).toEqual(['0', '1']);
    expect([...fake.paused]).toEqual(['t/0']);
    expect(await fake.batch('t', 1, [0])).toEqual(['0']);
    work.finish(0, 0);
    await tick();
    expect([...fake.paused]).toEqual([]);
    expect(await fake.batch('t', 0, [2, 3])).toEqual(['2']);
  });
  it('tracks when the coordinator last answered (join, heartbeat), for readiness', async () => {
    let now = 1_000;
    const { fake, loop } = setup(100, undefined, undefined, () => now);
    await loop.start();
    expect(loop.groupContactAgeMs()).toBe(Infinity);
    fake.join('m1', { t: [0] });
    expect(loop.groupContactAgeMs()).toBe(0);
    now += 3_000;
    fake.emit(EVENTS.HEARTBEAT, { payload: { groupId: 'g', memberId: 'm1', groupGenerationId: 1 } });
    now += 500;
    expect(loop.groupContactAgeMs()).toBe(500);
    // A broker that stops answering: no heartbeat event, the age grows while kafkajs still says joined.
    now += 40_000;
    expect(loop.isJoined).toBe(true);
    expect(loop.groupContactAgeMs()).toBe(40_500);
  });

  it('takes a partition from scratch when its log went back below the committed offset (truncated or recreated)', async () => {
    const { fake, work, loop, metrics } = setup();
    await loop.start();
    fake.join('m1', { t: [0] });
    await fake.batch('t', 0, [0, 1, 2, 3, 4]);
    for (let o = 0; o <= 4; o++) work.finish(0, o);
    await tick();
    await loop.commit();
    expect(lastCommit(fake)).toEqual({ 't/0': '5' });
    // Same member, no rebalance: the topic was recreated and kafkajs reset its position to the new log's start.
    expect(await fake.batch('t', 0, [0, 1])).toEqual(['0', '1']);
    expect(work.started.map((r) => r.offset)).toEqual(['0', '1', '2', '3', '4', '0', '1']);
    expect(await counter(metrics.offsetResets, { reason: 'log_went_back' })).toBe(1);
    work.finish(0, 0);
    work.finish(0, 1);
    await tick();
    await loop.commit();
    expect(lastCommit(fake)).toEqual({ 't/0': '2' });
  });

  it('resumes an out-of-range position at the earliest retained offset: subscribes fromBeginning whatever the setting', async () => {
    // kafkajs resets an out-of-range position with the subscription's fromBeginning flag.
    const { fake, loop } = setup(100, undefined, fakeAdmin({ 0: '-1' }, { 0: '10' }));
    await loop.start();
    expect(fake.subscriptions).toEqual([expect.objectContaining({ fromBeginning: true })]);
  });

  it('KAFKA_FROM_BEGINNING=false: places a partition the group never committed at its end, and commits that start', async () => {
    const { fake, work, loop } = setup(100, undefined, fakeAdmin({ 0: '-1', 1: '7' }, { 0: '10', 1: '12' }));
    await loop.start();
    fake.join('m1', { t: [0, 1] });
    expect([...fake.paused].sort()).toEqual(['t/0', 't/1']); // nothing taken before the start is known
    expect(await fake.batch('t', 0, [0, 1])).toEqual([]);
    await waitFor(() => fake.paused.size === 0);
    expect(fake.seeks).toEqual([{ topic: 't', partition: 0, offset: '10' }]); // partition 1 has a commit: kept
    expect(fake.commits).toEqual([[{ topic: 't', partition: 0, offset: '10' }]]);
    expect(await fake.batch('t', 0, [3])).toEqual([]); // fetched before the seek applied
    expect(await fake.batch('t', 0, [10])).toEqual(['10']);
    expect(await fake.batch('t', 1, [7])).toEqual(['7']);
    expect(work.started.map((r) => `${r.partition}/${r.offset}`)).toEqual(['0/10', '1/7']);
  });

  it('calls onFatal when kafkajs crashes without restarting, not when it restarts', async () => {
    const { fake, loop, fatal } = setup();
    await loop.start();
    fake.join('m1', { t: [0] });
    fake.crash(true);
    expect(fatal).toHaveLength(0);
    expect(loop.isFatal).toBe(false);
    fake.crash(false);
    expect(fatal).toHaveLength(1);
    expect(loop.isFatal).toBe(true);
  });

  it('does not count a commit kafkajs skipped (runner stopped) as ok, and commits it once running again', async () => {
    const { fake, work, loop, metrics } = setup();
    await loop.start();
    fake.join('m1', { t: [0] });
    await fake.batch('t', 0, [0]);
    work.finish(0, 0);
    await tick();
    fake.running = false; // kafkajs between a crash and its restart: commitOffsets resolves, commits nothing
    await loop.commit();
    expect(fake.commits).toHaveLength(0);
    expect(await counter(metrics.offsetCommits, { result: 'ok' })).toBe(0);
    expect(await counter(metrics.offsetCommits, { result: 'skipped' })).toBe(1);
    fake.running = true;
    await loop.commit();
    expect(lastCommit(fake)).toEqual({ 't/0': '1' });
    expect(await counter(metrics.offsetCommits, { result: 'ok' })).toBe(1);
  });

  it("keeps kafkajs's own retries short (at most 1 s apart) and riding out one session", async () => {
    // kafkajs re-sends a failing commit under whatever generation is current when it retries, holding
    // the commit meanwhile; and a long backoff outlives the session after a broker outage.
    const { options } = setup();
    const retry = options()?.retry as { initialRetryTime: number; maxRetryTime: number; retries: number };
    expect(retry.maxRetryTime).toBeLessThanOrEqual(1_000);
    expect(retry.initialRetryTime).toBeLessThanOrEqual(300);
    // ~1 s per retry once capped: enough to ride out a broker restart (15-25 s here) before kafkajs gives up.
    expect(retry.retries).toBeGreaterThanOrEqual(30);
  });

  describe('a record whose processing rejects (a bug)', () => {
    afterEach(() => {
      jest.useRealTimers();
    });

    it('is run again with a backoff doubling from 1 s to 60 s, and counted', async () => {
      jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
      const runs: number[] = [];
      const { fake, loop, metrics } = setup(100, () => {
        runs.push(Date.now());
        return Promise.reject(new Error('bug'));
      });
      await loop.start();
      fake.join('m1', { t: [0] });
      await fake.batch('t', 0, [0]);
      await jest.advanceTimersByTimeAsync(600_000);
      const gaps = runs.slice(1).map((at, i) => at - runs[i]!);
      expect(gaps.slice(0, 8)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]);
      expect(await counter(metrics.recordProcessingFailures)).toBe(runs.length);
    });

    it('stops waiting out its backoff when its partition is revoked', async () => {
      jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
      let runs = 0;
      const { fake, loop, metrics } = setup(100, () => {
        runs++;
        return Promise.reject(new Error('bug'));
      });
      await loop.start();
      fake.join('m1', { t: [0] });
      await fake.batch('t', 0, [0]);
      await jest.advanceTimersByTimeAsync(1_000 + 2_000); // runs at 0, 1 s and 3 s; next at 7 s
      expect(runs).toBe(3);
      fake.join('m1', { t: [] }); // revoked during the 4 s wait
      await jest.advanceTimersByTimeAsync(120_000);
      expect(runs).toBe(3);
      expect(await counter(metrics.inFlightRecords)).toBe(0); // finished as aborted, not left waiting
      await loop.stop();
    });
  });
});
