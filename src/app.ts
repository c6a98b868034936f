/**
 * Builds the whole service from injected dependencies (Kafka client, pg pool, HTTP transport, clock,
 * randomness, metrics registry) and owns start/stop order. `productionDeps` in `main.ts` builds the real
 * dependencies, for the service, the tests and the benchmark alike (their settings differ, not the wiring).
 * Past 300 lines because it is the one place the parts are wired to each other (each block is one part's
 * options); splitting it would scatter the start/stop order this file exists to keep in one view.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import type { Registry } from 'prom-client';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import { ConnectorError, ErrorCode } from './errors.js';
import { ConsumerLoop } from './consumer/consumer-loop.js';
import { Lanes } from './consumer/lanes.js';
import { OutageProbe } from './consumer/outage-probe.js';
import { Outages } from './consumer/outages.js';
import { processRecord, type PipelineDeps } from './consumer/process-record.js';
import { createDeadLetterProducer } from './dead-letter/dead-letter-producer.js';
import { createDeliveryLog } from './delivery-log/delivery-log.js';
import type { DeliverDeps } from './delivery/deliver.js';
import { deliverDepsFromConfig } from './delivery/deliver-deps.js';
import { decodeRecord, type RegistryDecoder } from './events/decode-record.js';
import { createOpsServer, type OpsServer } from './http/ops-server.js';
import { readinessOf, type Readiness } from './http/readiness.js';
import { createLagMonitor } from './kafka/lag-monitor.js';
import { prepareTopics } from './kafka/topics.js';
import type { Logger } from './logger.js';
import { setCircuitStates, statusClass, type Metrics } from './metrics/metrics.js';
import { CircuitBreakers } from './parking/circuit-breaker.js';
import { createEndpointHealth } from './parking/endpoint-health.js';
import { ParkedRunner } from './parking/parked-runner.js';
import { Parking } from './parking/parking.js';
import { createPgDeliveryStore } from './parking/pg-delivery-store.js';
import { pendingMigrations } from './subscriptions/migrate.js';
import { createSubscriptionStore } from './subscriptions/pg-store.js';
import { createSubscriptionCache } from './subscriptions/subscription-cache.js';
import type { WebhookTransport } from './transport/types.js';

export interface AppDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly random: () => number;
  readonly kafka: Kafka;
  readonly pool: Pool;
  /** The delivery log's own pool (createDeliveryLogPool: synchronous_commit off); default `pool`. */
  readonly deliveryLogPool?: Pool;
  readonly transport: WebhookTransport;
  readonly registry: Registry;
  readonly metrics: Metrics;
  readonly registryDecoder?: RegistryDecoder;
  /** kafkajs crashed for good (see ConsumerLoop): the caller should stop the app and exit non-zero. */
  readonly onFatal?: (err: unknown) => void;
  /** Lag poll interval; default 10 s. */
  readonly lagIntervalMs?: number;
}

export interface App {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Port the ops server listens on (after start). */
  readonly opsPort: number;
  readiness(): Readiness;
  /** For tests and the ops server: the consumer loop and subscription snapshot. */
  readonly consumer: ConsumerLoop;
}

/** How often a declared schema-registry outage is checked (one GET /schemas/types). */
export const REGISTRY_PROBE_INTERVAL_MS = 1_000;

/** At shutdown, how long the delivery log may take to write what it still holds. */
export const DELIVERY_LOG_STOP_BUDGET_MS = 5_000;

export function createApp(d: AppDeps): App {
  const { config: c, logger, metrics } = d;
  const store = createSubscriptionStore(d.pool);
  const subscriptions = createSubscriptionCache({
    pool: d.pool,
    store,
    clock: d.clock,
    logger: logger.child({ component: 'subscriptions' }),
    resyncIntervalMs: c.SUBSCRIPTIONS_RESYNC_INTERVAL_MS,
    maxStalenessMs: c.SUBSCRIPTIONS_MAX_STALENESS_MS,
    onChange: (index) => metrics.subscriptionsCached.set(index.size),
  });
  const outages = new Outages();
  subscriptions.onStateChange((state) => {
    logger.info({ state }, 'subscription snapshot state');
    outages.set('subscriptions', state === 'stale');
  });
  // No probe (a decoder without one): the registry counts as answering, so a failure holds only its record.
  const registryProbe =
    d.registryDecoder?.probe?.bind(d.registryDecoder) ?? (async () => ({ ok: true as const }));
  const registryOutage = new OutageProbe({
    dependency: 'schema_registry',
    outages,
    probe: registryProbe,
    intervalMs: REGISTRY_PROBE_INTERVAL_MS,
    clock: d.clock,
    logger: logger.child({ component: 'schema-registry' }),
  });
  const deadLetters = createDeadLetterProducer(d.kafka, {
    topic: c.DLQ_TOPIC,
    clock: d.clock,
    // The producer logs only its failed writes: each line carries the code an operator looks up.
    logger: logger.child({ code: ErrorCode.DEAD_LETTER_PUBLISH }),
    onFailure: () => metrics.deadLetterPublishFailures.inc(),
  });
  const deliveryStore = createPgDeliveryStore(d.pool);
  const health = createEndpointHealth({
    pool: d.pool,
    now: () => d.clock.now(),
    disableAfterMs: c.SUBSCRIPTION_DISABLE_AFTER_MS,
    logger: logger.child({ component: 'endpoint-health' }),
    onDisabled: (id, reason) => {
      metrics.subscriptionsDisabled.inc({ reason });
      logger.warn(
        { code: ErrorCode.SUBSCRIPTION_DISABLED, subscriptionId: id, reason },
        'subscription disabled',
      );
    },
  });
  const breakers = new CircuitBreakers({
    failurePercent: c.CIRCUIT_FAILURE_PERCENT,
    minAttempts: c.CIRCUIT_MIN_ATTEMPTS,
    windowMs: c.CIRCUIT_WINDOW_MS,
    cooldownMs: c.CIRCUIT_COOLDOWN_MS,
    now: () => d.clock.now(),
    onTransition: (id, to) => {
      metrics.circuitTransitions.inc({ to });
      setCircuitStates(
        metrics,
        breakers.nonClosed().flatMap((b) => (b.state === 'closed' ? [] : [{ id: b.id, state: b.state }])),
      );
      if (to === 'open') {
        logger.warn({ subscriptionId: id }, 'circuit opened: deliveries park without an attempt');
      } else if (to === 'closed') logger.info({ subscriptionId: id }, 'circuit closed');
    },
  });
  // This instance's name: the parked runner's lease owner and the delivery log's `instance`.
  const instance = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const deliveryLog = createDeliveryLog({
    config: c,
    pool: d.deliveryLogPool ?? d.pool,
    instance,
    clock: d.clock,
    logger,
    metrics,
  });
  const logAttempt = deliveryLog?.observe;
  const fromConfig = deliverDepsFromConfig(c, {
    transport: d.transport,
    clock: d.clock,
    random: d.random,
    onAttempt: (outcome, result, attempt, sub, context) => {
      health.record(
        sub.id,
        outcome.kind === 'delivered',
        result.kind === 'response' ? result.status : undefined,
      );
      const sc = statusClass(outcome.status);
      metrics.attempts.inc({
        result: outcome.kind === 'delivered' ? 'success' : outcome.kind,
        status_class: sc,
      });
      metrics.attemptDuration.observe({ status_class: sc }, result.durationMs / 1000);
      if (outcome.kind !== 'delivered' && outcome.reason === 'ssrf') metrics.ssrfRefusals.inc();
      if (logAttempt !== undefined) logAttempt(outcome, result, attempt, sub, context);
    },
  });
  const deliverDeps: DeliverDeps = { ...fromConfig, breakers };
  const parking = new Parking({
    store: deliveryStore,
    clock: d.clock,
    metrics,
    logger,
    // At most half a partition's window: a slow subscription never fills a partition on its own.
    subscriptionMaxPending: Math.max(
      1,
      Math.min(c.SUBSCRIPTION_MAX_PENDING, Math.floor(c.PARTITION_MAX_IN_FLIGHT / 2)),
    ),
    laneMaxPending: c.ORDERED_LANE_MAX_PENDING,
    laneRecheckMs: c.PARKED_POLL_INTERVAL_MS,
    onDueNow: () => runner.nudge(),
  });
  const runner = new ParkedRunner({
    store: deliveryStore,
    owner: instance,
    deliverDeps,
    settle: { deadLetters, metrics, logger: logger.child({ component: 'parked-runner' }) },
    subscription: (id) => (subscriptions.isUsable() ? subscriptions.index.get(id) : undefined),
    clock: d.clock,
    metrics,
    logger,
    pollIntervalMs: c.PARKED_POLL_INTERVAL_MS,
    claimBatch: c.PARKED_CLAIM_BATCH,
    leaseMs: c.PARKED_LEASE_MS,
    deliveryTimeoutMs: c.DELIVERY_TIMEOUT_MS,
    maxInFlight: c.DELIVERY_CONCURRENCY,
    retentionMs: c.DELIVERY_STORE_RETENTION_MS,
    skip: () => breakers.refusing(),
  });
  const pipeline: PipelineDeps = {
    decode: (value, at) =>
      decodeRecord(value, at, { maxRecordBytes: c.MAX_RECORD_BYTES, registry: d.registryDecoder }),
    subscriptions: () => (subscriptions.isUsable() ? subscriptions.index : null),
    deliverDeps,
    lanes: new Lanes(),
    parking,
    keyLanes: new Lanes(),
    deadLetters,
    outages,
    registryFailure: () => registryOutage.reportFailure(),
    metrics,
    logger: logger.child({ component: 'pipeline' }),
    clock: d.clock,
  };
  const consumer = new ConsumerLoop({
    kafka: d.kafka,
    groupId: c.KAFKA_GROUP_ID,
    topics: c.KAFKA_TOPICS,
    fromBeginning: c.KAFKA_FROM_BEGINNING,
    sessionTimeoutMs: c.KAFKA_SESSION_TIMEOUT_MS,
    maxInFlightPerPartition: c.PARTITION_MAX_IN_FLIGHT,
    commitIntervalMs: c.COMMIT_INTERVAL_MS,
    drainTimeoutMs: c.SHUTDOWN_DRAIN_TIMEOUT_MS,
    process: (record, signal) => processRecord(record, pipeline, signal),
    outages,
    metrics,
    logger,
    now: () => d.clock.now(),
    onFatal: (err) => d.onFatal?.(err),
  });
  const lag = createLagMonitor(d.kafka, {
    groupId: c.KAFKA_GROUP_ID,
    intervalMs: d.lagIntervalMs ?? 10_000,
    assignment: () => consumer.assignment(),
    metrics,
    logger,
  });
  const readiness = (): Readiness => {
    const r = readinessOf({
      joined: consumer.isJoined,
      groupContactAgeMs: consumer.groupContactAgeMs(),
      sessionTimeoutMs: c.KAFKA_SESSION_TIMEOUT_MS,
      subscriptions: subscriptions.state,
      outages: outages.list(),
    });
    metrics.ready.set(r.ready ? 1 : 0);
    return r;
  };
  const ops: OpsServer = createOpsServer({
    registry: d.registry,
    readiness,
    alive: () => !consumer.isFatal,
    beforeScrape: () => {
      metrics.snapshotAge.set(subscriptions.snapshotAgeMs() / 1000);
      readiness();
    },
  });
  let opsPort = 0;
  const started: (() => Promise<void>)[] = [];

  let stopRequested = false;

  return {
    consumer,
    readiness,
    get opsPort() {
      return opsPort;
    },
    async start() {
      opsPort = await ops.listen(c.OPS_HOST, c.OPS_PORT);
      started.push(() => ops.close());
      const pending = await pendingMigrations(d.pool).catch((err: unknown) => {
        throw new ConnectorError(
          ErrorCode.SUBSCRIPTIONS_UNAVAILABLE,
          `Postgres (DATABASE_URL): ${err instanceof Error ? err.message : String(err)}`,
        );
      });
      if (pending.length > 0) {
        throw new ConnectorError(
          ErrorCode.CONFIG_INVALID,
          `the database in DATABASE_URL is not up to date (not applied: ${pending.join(', ')}): run \`webhook-connector migrate\` first`,
          { pending },
        );
      }
      await subscriptions.start();
      started.push(() => subscriptions.stop());
      await prepareTopics(d.kafka, {
        topics: c.KAFKA_TOPICS,
        deadLetterTopic: c.DLQ_TOPIC,
        clock: d.clock,
        logger,
        stopRequested: () => stopRequested,
      });
      await deadLetters.start();
      started.push(() => deadLetters.stop());
      health.start();
      started.push(() => health.stop());
      if (deliveryLog !== undefined) {
        // Stopped after the runner and the consumer (reverse order): their last attempts are written.
        await deliveryLog.start();
        started.push(() => deliveryLog.stop(DELIVERY_LOG_STOP_BUDGET_MS));
      }
      // Stopped after the consumer (reverse order): parks of the consumer's drain still reach the store.
      runner.start();
      started.push(() => runner.stop());
      await consumer.start();
      started.push(() => consumer.stop());
      await lag.start();
      started.push(() => lag.stop());
      logger.info(
        { opsPort, topics: c.KAFKA_TOPICS, groupId: c.KAFKA_GROUP_ID, transport: d.transport.name },
        'started',
      );
    },
    async stop() {
      stopRequested = true;
      registryOutage.stop();
      // Reverse start order: the consumer drains (deliveries and dead letters still work) before the rest closes.
      for (const stop of started.splice(0).reverse()) {
        try {
          await stop();
        } catch (err) {
          logger.warn({ err }, 'error while stopping');
        }
      }
      // The consumer has drained or spent its budget: what is still in flight is abandoned (its records are
      // uncommitted and go to the next owner), so do not wait up to DELIVERY_TIMEOUT_MS for it.
      await d.transport.destroy();
      logger.info('stopped');
    },
  };
}
