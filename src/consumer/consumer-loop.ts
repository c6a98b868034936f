/**
 * The kafkajs consumer loop. Guarantee: at-least-once per (event, subscription). A record's offset is
 * committed only after its processing resolved `done` (every delivery got a 2xx or its dead letter was
 * acknowledged); commits advance over the contiguous done prefix of each partition (PartitionOffsets).
 *
 * How kafkajs is used (it has no revoke callback and can commit revoked partitions, tulios/kafkajs#1046):
 * - autoCommit is off: kafkajs never commits; this loop commits with consumer.commitOffsets on a timer,
 *   for currently assigned partitions only, and right when a rebalance is detected.
 * - eachBatch never blocks on deliveries and never throws: it *takes* records (resolveOffset only moves
 *   kafkajs's fetch position) and starts their processing in the background, then returns, so kafkajs
 *   keeps fetching and heartbeating. A partition whose window of taken-but-unfinished records is full is
 *   paused (only that partition) and resumed when half drained; records not taken are fetched again later.
 * - On GROUP_JOIN, partitions no longer assigned are dropped: their in-flight work is aborted and can never
 *   move a committed offset; the new owner redelivers from the last commit (duplicates, never loss).
 *   Partitions kept across the rebalance keep their state, so refetched records already taken are skipped;
 *   a record below the last commit is not a refetch but a log that went back (truncated, topic recreated):
 *   that partition starts over.
 * - kafkajs resets an out-of-range position (records deleted by retention before we read them) with the
 *   subscription's fromBeginning flag, so we always subscribe fromBeginning (earliest retained offset, as
 *   Kafka Connect sinks do) and place a partition the group never committed at its end ourselves when
 *   KAFKA_FROM_BEGINNING=false (placeNewPartitions).
 * - kafkajs's own retries of a commit re-send the same offsets under whatever generation is current, and
 *   hold the commit meanwhile: they are kept 1 s apart (CONSUMER_RETRY); failed commits are retried by our
 *   timer with offsets chosen again from the partitions still assigned. A retry that lands after a
 *   rebalance can still commit a partition revoked meanwhile (kafkajs offers no hook to stop it), but
 *   only to our done prefix, never past a record we did not finish: duplicates at worst, never loss.
 *
 * One file past 300 lines: the take/pause/commit/rebalance/drain rules share the partition states and
 * are only correct together; split, each part would have to re-explain the others.
 *
 * States: idle → running → draining (stop: take nothing, wait for in-flight work up to the drain budget,
 * commit what is done, leave the group) → stopped.
 */
import { setMaxListeners } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { InboundRecord } from '../events/event.js';
import { PartitionOffsets } from './offset-tracker.js';
import type { Outages } from './outages.js';
import type { RecordResult } from './process-record.js';

export interface ConsumerLoopOptions {
  readonly kafka: Kafka;
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly fromBeginning: boolean;
  readonly sessionTimeoutMs: number;
  readonly maxInFlightPerPartition: number;
  readonly commitIntervalMs: number;
  readonly drainTimeoutMs: number;
  readonly process: (record: InboundRecord, signal: AbortSignal) => Promise<RecordResult>;
  readonly outages: Outages;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Wall clock for the group-contact age; default Date.now. */
  readonly now?: () => number;
  /** kafkajs crashed and will not restart: nothing is consumed any more; the process should go. */
  readonly onFatal?: (err: unknown) => void;
}

interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  readonly offsets: PartitionOffsets;
  readonly abort: AbortController;
  windowFull: boolean;
  pausedInKafka: boolean;
  /** False until its start is placed (a partition the group never committed, KAFKA_FROM_BEGINNING=false). */
  placed: boolean;
  /** Records below it come from before our seek to the end: not taken. */
  skipBelow: number;
}

type LoopState = 'idle' | 'running' | 'draining' | 'stopped';

/**
 * Longest wait of a fetch. The broker answers as soon as any requested partition has data (minBytes 1), so
 * this does not delay events; it matters when every assigned partition is paused (all windows full):
 * kafkajs then sleeps this long before it looks again, even if a window drains and resumes meanwhile. At
 * 500 ms those sleeps halved the throughput of a backlog; 100 ms costs at most 10 empty fetches a second.
 */
export const FETCH_MAX_WAIT_MS = 100;

/**
 * A partition's abort: every delivery of the partition waiting out a backoff listens to it, so it has
 * hundreds of listeners by design (a window's worth), not a leak; Node's "possible EventTarget memory leak"
 * warning past 10 would only be noise on stderr.
 */
function partitionAbort(): AbortController {
  const ac = new AbortController();
  setMaxListeners(0, ac.signal);
  return ac;
}

const tp = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/**
 * kafkajs's retries for the consumer: at most 1 s apart, so a broker or coordinator back from an outage is
 * used again within a second (backing off to 30 s, the member missed its session); 60 ride out ~1 min, so
 * a broker restart neither crashes the consumer nor changes its member id (a new member waits for the old
 * one's session). The same policy bounds a commit's own retries (they hold the commit meanwhile).
 */
export const CONSUMER_RETRY = { initialRetryTime: 100, maxRetryTime: 1_000, retries: 60 } as const;

/** Delay before a record whose processing rejected runs again: 1 s, doubling, capped at 60 s. */
export const recordRetryDelayMs = (failures: number): number =>
  Math.min(60_000, 1_000 * 2 ** Math.max(0, failures - 1));

/** Retries of the final commit at stop, and the pause before each (well inside any drain budget). */
const STOP_COMMIT_RETRIES = 3;
const STOP_COMMIT_RETRY_MS = 200;

export class ConsumerLoop {
  private readonly consumer: Consumer;
  private readonly log: Logger;
  private readonly parts = new Map<string, PartitionState>();
  private state: LoopState = 'idle';
  private joined = false;
  private memberId: string | null = null;
  private restartedSinceJoin = false;
  /** When the coordinator last answered a heartbeat or a join (readiness: still a member?). */
  private lastGroupContactAt = -Infinity;
  private inFlight = 0;
  private committing: Promise<void> | null = null;
  private nextCommit: Promise<void> | null = null;
  private commitTimer: NodeJS.Timeout | undefined;
  /** Commits kafkajs really sent and had acknowledged (its COMMIT_OFFSETS event); a stopped runner sends none. */
  private commitsAcknowledged = 0;
  private fatal = false;
  private admin: Admin | null = null;
  private readonly idleWaiters: (() => void)[] = [];

  constructor(private readonly o: ConsumerLoopOptions) {
    this.log = o.logger.child({ component: 'consumer' });
    this.consumer = o.kafka.consumer({
      groupId: o.groupId,
      sessionTimeout: o.sessionTimeoutMs,
      heartbeatInterval: Math.max(1_000, Math.floor(o.sessionTimeoutMs / 10)),
      maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
      retry: { ...CONSUMER_RETRY },
    });
    const ev = this.consumer.events;
    this.consumer.on(ev.GROUP_JOIN, (e) => this.onJoin(e.payload.memberId, e.payload.memberAssignment));
    this.consumer.on(ev.HEARTBEAT, () => {
      this.lastGroupContactAt = this.now();
    });
    this.consumer.on(ev.REBALANCING, () => {
      this.log.info('group rebalancing; committing what is done');
      void this.commit();
    });
    this.consumer.on(ev.COMMIT_OFFSETS, () => {
      this.commitsAcknowledged++;
    });
    this.consumer.on(ev.CRASH, (e) => {
      this.restartedSinceJoin = true;
      this.joined = false;
      if (e.payload.restart) {
        this.log.error(
          { err: e.payload.error, restart: true },
          'kafka consumer crashed; kafkajs restarts it',
        );
        return;
      }
      // kafkajs gives up (a non-retriable error): the process would stay alive consuming nothing.
      this.fatal = true;
      this.log.fatal({ err: e.payload.error, restart: false }, 'kafka consumer crashed for good; exiting');
      this.o.onFatal?.(e.payload.error);
    });
    o.outages.onChange((down) => {
      this.log.warn(
        { down: o.outages.list() },
        down ? 'dependency outage: pausing consumption' : 'dependencies back: resuming',
      );
      this.reconcilePauses();
    });
  }

  /** Joined the group (has an assignment, possibly empty) and running. */
  get isJoined(): boolean {
    return this.joined && this.state === 'running';
  }

  /** Since the coordinator last answered a heartbeat or a join; Infinity before the first join. */
  groupContactAgeMs(): number {
    return this.now() - this.lastGroupContactAt;
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  /** kafkajs crashed without restarting: the process is alive but consumes nothing (/healthz says 503). */
  get isFatal(): boolean {
    return this.fatal;
  }

  /** Assigned partitions, as {topic, partition}. */
  assignment(): { topic: string; partition: number }[] {
    return [...this.parts.values()].map(({ topic, partition }) => ({ topic, partition }));
  }

  async start(): Promise<void> {
    if (!this.o.fromBeginning) {
      this.admin = this.o.kafka.admin();
      await this.admin.connect();
    }
    await this.consumer.connect();
    // Always fromBeginning: kafkajs uses this flag for out-of-range positions too (see the header).
    await this.consumer.subscribe({ topics: [...this.o.topics], fromBeginning: true });
    this.state = 'running';
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.takeBatch(payload),
    });
    this.commitTimer = setInterval(() => void this.commit(), this.o.commitIntervalMs);
    this.commitTimer.unref();
  }

  /** Drains and leaves the group. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.state === 'draining' || this.state === 'stopped') return;
    const wasRunning = this.state === 'running';
    this.state = 'draining';
    if (wasRunning) {
      this.reconcilePauses();
      const drained = await this.waitIdle(this.o.drainTimeoutMs);
      this.log.info(
        { drained, inFlightRecords: this.inFlight },
        drained ? 'drained' : 'drain budget spent; aborting the rest',
      );
      for (const st of this.parts.values()) st.abort.abort();
      await this.commit();
      // The last commit decides what the next owner redelivers: one the broker refused (a rebalance
      // starting, the coordinator moving) is tried again, briefly, while the group still has this member.
      for (let i = 0; i < STOP_COMMIT_RETRIES && this.joined && this.hasCommittable(); i++) {
        await delay(STOP_COMMIT_RETRY_MS);
        await this.commit();
      }
      if (this.hasCommittable()) {
        // Not a loss: the next owner starts from the last commit and delivers those records again.
        this.log.warn(
          { joined: this.joined },
          'final offset commit did not complete: the next owner redelivers what was done since the last commit',
        );
      }
    }
    clearInterval(this.commitTimer);
    await this.consumer.disconnect();
    await this.admin?.disconnect();
    this.state = 'stopped';
    this.joined = false;
  }

  /** Some owned partition has done work not yet committed. */
  private hasCommittable(): boolean {
    return [...this.parts.values()].some((st) => st.offsets.committable() !== null);
  }

  /** kafkajs eachBatch: take what fits, start it, return at once. Never throws, never waits on deliveries. */
  private async takeBatch({ batch, resolveOffset, isRunning, isStale }: EachBatchPayload): Promise<void> {
    let st = this.parts.get(tp(batch.topic, batch.partition));
    if (!st?.placed) return; // a partition we no longer own, or not placed yet: take nothing
    for (const message of batch.messages) {
      if (
        !isRunning() ||
        isStale() ||
        this.state !== 'running' ||
        this.o.outages.any ||
        st.abort.signal.aborted
      ) {
        break;
      }
      const offset = Number(message.offset);
      if (offset < st.skipBelow) continue; // fetched before our seek to the end
      if (offset < st.offsets.floor) st = this.restartPartition(st, offset);
      if (offset <= st.offsets.highestTaken) {
        resolveOffset(message.offset); // refetched after a rebalance: already taken, maybe done
        continue;
      }
      if (st.offsets.pending >= this.o.maxInFlightPerPartition) {
        st.windowFull = true;
        this.reconcilePauses();
        break;
      }
      st.offsets.take(offset);
      resolveOffset(message.offset);
      this.startRecord(st, toInbound(batch.topic, batch.partition, message));
    }
  }

  private startRecord(st: PartitionState, record: InboundRecord): void {
    this.inFlight++;
    this.o.metrics.inFlightRecords.inc();
    const offset = Number(record.offset);
    const finish = (result: RecordResult): void => {
      this.inFlight--;
      this.o.metrics.inFlightRecords.dec();
      if (result === 'done') st.offsets.done(offset);
      if (st.windowFull && st.offsets.pending <= this.o.maxInFlightPerPartition / 2) {
        st.windowFull = false;
        this.reconcilePauses();
      }
      if (this.inFlight === 0) this.idleWaiters.splice(0).forEach((w) => w());
    };
    let failures = 0;
    const run = (): void => {
      this.o.process(record, st.abort.signal).then(finish, (err: unknown) => {
        // processRecord resolves for every failure it knows; a rejection is a bug. Never skip the record:
        // log it and run it again, backing off (each run re-sends to every subscriber), uncommitted meanwhile.
        failures++;
        this.o.metrics.recordProcessingFailures.inc();
        const retryInMs = recordRetryDelayMs(failures);
        this.log.error(
          {
            err,
            topic: record.topic,
            partition: record.partition,
            offset: record.offset,
            failures,
            retryInMs,
          },
          'record processing failed unexpectedly; retrying',
        );
        if (st.abort.signal.aborted) return finish('aborted');
        const timer = setTimeout(() => {
          st.abort.signal.removeEventListener('abort', onAbort);
          run();
        }, retryInMs);
        timer.unref();
        // A revoke or shutdown does not wait out the backoff.
        const onAbort = (): void => {
          clearTimeout(timer);
          finish('aborted');
        };
        st.abort.signal.addEventListener('abort', onAbort, { once: true });
      });
    };
    run();
  }

  /**
   * The partition's log went back below our last commit without a rebalance (truncated, or the topic
   * deleted and recreated, then kafkajs reset its position): refetched-record skipping would drop every new
   * record up to our old high mark, so the partition starts over. Work in flight goes on (same abort).
   */
  private restartPartition(old: PartitionState, offset: number): PartitionState {
    this.log.warn(
      { topic: old.topic, partition: old.partition, offset, lastCommitted: old.offsets.lastCommitted },
      'partition log went back below the committed offset (truncated or recreated); taking it from here',
    );
    this.o.metrics.offsetResets.inc({ reason: 'log_went_back' });
    const st: PartitionState = { ...old, offsets: new PartitionOffsets(), windowFull: false, skipBelow: -1 };
    this.parts.set(tp(old.topic, old.partition), st);
    return st;
  }

  /**
   * KAFKA_FROM_BEGINNING=false: a partition the group never committed starts at its end. Until placed it is
   * paused and nothing of it is taken; the end offset is committed at once, so a restart or the next owner
   * does not skip what arrives meanwhile. Retried every second while the partition is still ours.
   */
  private async placeNewPartitions(states: PartitionState[]): Promise<void> {
    const current = (st: PartitionState): boolean =>
      this.state === 'running' && this.parts.get(tp(st.topic, st.partition)) === st;
    for (const topic of new Set(states.map((st) => st.topic))) {
      for (;;) {
        const todo = states.filter((st) => st.topic === topic && current(st));
        if (todo.length === 0) break;
        try {
          await this.placeTopicPartitions(topic, todo);
          break;
        } catch (err) {
          this.log.warn({ err, topic }, 'could not read committed offsets to place new partitions; retrying');
          await new Promise((r) => setTimeout(r, 1_000).unref());
        }
      }
    }
  }

  private async placeTopicPartitions(topic: string, todo: PartitionState[]): Promise<void> {
    const admin = this.admin!;
    const [committed] = await admin.fetchOffsets({ groupId: this.o.groupId, topics: [topic] });
    const ends = await admin.fetchTopicOffsets(topic);
    for (const st of todo) {
      if (this.parts.get(tp(st.topic, st.partition)) !== st) continue;
      const offset = committed?.partitions.find((p) => p.partition === st.partition)?.offset ?? '-1';
      if (offset === '-1') {
        const end = ends.find((p) => p.partition === st.partition)?.high ?? '0';
        this.consumer.seek({ topic, partition: st.partition, offset: end });
        st.skipBelow = Number(end);
        await this.consumer
          .commitOffsets([{ topic, partition: st.partition, offset: end }])
          .then(() => st.offsets.markCommitted(Number(end)))
          .catch((err: unknown) =>
            this.log.warn({ err, topic, partition: st.partition }, 'could not commit the start'),
          );
        this.log.info(
          { topic, partition: st.partition, offset: end },
          'no committed offset: starting at the end',
        );
      }
      st.placed = true;
    }
    this.reconcilePauses();
  }

  private onJoin(memberId: string, assignment: Record<string, number[]>): void {
    const reset = this.memberId !== memberId || this.restartedSinceJoin;
    this.memberId = memberId;
    this.restartedSinceJoin = false;
    this.lastGroupContactAt = this.now();
    const now = new Set<string>();
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const p of partitions) now.add(tp(topic, p));
    }
    const revoked: string[] = [];
    const added: PartitionState[] = [];
    for (const [key, st] of this.parts) {
      if (reset || !now.has(key)) {
        st.abort.abort();
        this.parts.delete(key);
        revoked.push(`${st.topic}/${st.partition}`);
      }
    }
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const partition of partitions) {
        const key = tp(topic, partition);
        if (!this.parts.has(key)) {
          const st: PartitionState = {
            topic,
            partition,
            offsets: new PartitionOffsets(),
            abort: partitionAbort(),
            windowFull: false,
            pausedInKafka: false,
            placed: this.o.fromBeginning,
            skipBelow: -1,
          };
          this.parts.set(key, st);
          added.push(st);
        }
      }
    }
    this.joined = true;
    this.log.info({ memberId, assignment, revoked }, 'joined group');
    // kafkajs keeps (or, after a restart, forgets) pauses by itself: re-apply ours from scratch.
    for (const st of this.parts.values()) st.pausedInKafka = false;
    this.reconcilePauses(true);
    if (!this.o.fromBeginning && added.length > 0) void this.placeNewPartitions(added);
  }

  /** Makes kafkajs's paused set equal to what we want: everything while draining or in an outage, else full windows. */
  private reconcilePauses(force = false): void {
    if (this.state === 'idle' || this.state === 'stopped') return;
    const pauseAll = this.state === 'draining' || this.o.outages.any;
    let paused = 0;
    for (const st of this.parts.values()) {
      const want = pauseAll || st.windowFull || !st.placed;
      if (want !== st.pausedInKafka || force) {
        try {
          if (want) this.consumer.pause([{ topic: st.topic, partitions: [st.partition] }]);
          else this.consumer.resume([{ topic: st.topic, partitions: [st.partition] }]);
          st.pausedInKafka = want;
        } catch (err) {
          this.log.debug({ err }, 'pause/resume not possible now (consumer not running); will retry on join');
        }
      }
      if (st.pausedInKafka) paused++;
    }
    this.o.metrics.pausedPartitions.set(paused);
  }

  /** Commits the done prefix of every assigned partition. Failures are retried at the next tick. */
  commit(): Promise<void> {
    // A commit under way chose its offsets when it started; a caller (stop, rebalance) wants what is done
    // now, so one more commit follows it (callers meanwhile share that one).
    if (this.committing) {
      this.nextCommit ??= this.committing.then(() => {
        this.nextCommit = null;
        return this.commit();
      });
      return this.nextCommit;
    }
    const work = async (): Promise<void> => {
      if (!this.joined) {
        // kafkajs's runner is stopped (crashed, restarting): its commitOffsets would silently do nothing.
        if (this.hasCommittable()) {
          this.o.metrics.offsetCommits.inc({ result: 'skipped' });
        }
        return;
      }
      const toCommit: { st: PartitionState; offset: number }[] = [];
      for (const st of this.parts.values()) {
        const offset = st.offsets.committable();
        if (offset !== null) toCommit.push({ st, offset });
      }
      if (toCommit.length === 0) return;
      try {
        const acknowledgedBefore = this.commitsAcknowledged;
        await this.consumer.commitOffsets(
          toCommit.map(({ st, offset }) => ({
            topic: st.topic,
            partition: st.partition,
            offset: String(offset),
          })),
        );
        if (this.commitsAcknowledged === acknowledgedBefore) {
          // kafkajs returns without committing when its runner stopped meanwhile: not ok, retried next tick.
          this.o.metrics.offsetCommits.inc({ result: 'skipped' });
          this.log.debug('offset commit skipped: the consumer is not running');
          return;
        }
        for (const { st, offset } of toCommit) st.offsets.markCommitted(offset);
        this.o.metrics.offsetCommits.inc({ result: 'ok' });
      } catch (err) {
        this.o.metrics.offsetCommits.inc({ result: 'error' });
        this.log.warn({ err }, 'offset commit failed; will retry');
      }
    };
    this.committing = work().finally(() => {
      this.committing = null;
    });
    return this.committing;
  }

  private waitIdle(timeoutMs: number): Promise<boolean> {
    if (this.inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}

/**
 * The record as the pipeline keeps it. Its byte fields are copied: kafkajs hands out slices of the whole
 * fetch response (up to MBs), and one record kept in flight would otherwise keep that response alive.
 */
function toInbound(topic: string, partition: number, m: KafkaMessage): InboundRecord {
  return {
    topic,
    partition,
    offset: m.offset,
    timestamp: m.timestamp,
    key: m.key ? Buffer.from(m.key) : null,
    value: m.value ? Buffer.from(m.value) : null,
    headers: m.headers ? copyHeaders(m.headers) : {},
  };
}

function copyHeaders(h: NonNullable<KafkaMessage['headers']>): InboundRecord['headers'] {
  const out: Record<string, Buffer | string | (Buffer | string)[] | undefined> = {};
  for (const name in h) {
    const v = h[name];
    out[name] = Buffer.isBuffer(v) ? Buffer.from(v) : Array.isArray(v) ? v.map(copyHeaderValue) : v;
  }
  return out;
}

const copyHeaderValue = (v: Buffer | string): Buffer | string => (Buffer.isBuffer(v) ? Buffer.from(v) : v);
