/**
 * The consumer loop's offset guarantees, driven through a scripted stand-in for the kafkajs consumer (the
 * integration tests run the same loop against the real broker): commits cover only the done prefix of
 * partitions still owned, a revoked partition's late completions never commit, refetched records are not
 * taken twice, and a full window pauses only its partition.
 */
import { describe, expect, it } from '@jest/globals';
import { EventEmitter } from 'node:events';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { EachBatchPayload, Kafka } from 'kafkajs';
import { ConsumerLoop } from '../../../src/consumer/consumer-loop.js';
import { Outages } from '../../../src/consumer/outages.js';
import type { RecordResult } from '../../../src/consumer/process-record.js';
import type { InboundRecord } from '../../../src/dead-letter/dead-letter-record.js';
import { createMetrics } from '../../../src/metrics/metrics.js';

const EVENTS = { GROUP_JOIN: 'join', REBALANCING: 'rebalancing', CRASH: 'crash', HEARTBEAT: 'heartbeat' };

class FakeConsumer extends EventEmitter {
  readonly events = EVENTS;
  readonly commits: { topic: string; partition: number; offset: string }[][] = [];
  readonly paused = new Set<string>();
  eachBatch!: (p: EachBatchPayload) => Promise<void>;
  override on(event: string, listener: (...args: unknown[]) => void): this {
    return super.on(event, listener);
  }
  async connect(): Promise<void> {}
  async subscribe(): Promise<void> {}
  async disconnect(): Promise<void> {}
  async run(o: { eachBatch: (p: EachBatchPayload) => Promise<void> }): Promise<void> {
    this.eachBatch = o.eachBatch;
  }
  async commitOffsets(offsets: { topic: string; partition: number; offset: string }[]): Promise<void> {
    this.commits.push(offsets);
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

function setup(
  maxInFlight = 100,
  now: () => number = Date.now,
): { fake: FakeConsumer; work: Work; loop: ConsumerLoop } {
  const fake = new FakeConsumer();
  const work = new Work();
  const kafka = { consumer: () => fake } as unknown as Kafka;
  const loop = new ConsumerLoop({
    kafka,
    groupId: 'g',
    topics: ['t'],
    fromBeginning: true,
    sessionTimeoutMs: 30_000,
    maxInFlightPerPartition: maxInFlight,
    commitIntervalMs: 1_000_000,
    drainTimeoutMs: 100,
    process: work.process,
    outages: new Outages(),
    metrics: createMetrics(new Registry(), { defaultMetrics: false }),
    logger: pino({ level: 'silent' }),
    now,
  });
  return { fake, work, loop };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
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
    const { fake, loop } = setup(100, () => now);
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
});
