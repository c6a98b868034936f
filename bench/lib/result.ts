/**
 * What every scenario returns, and the ids the comparisons and the report find results by. An id is the
 * run's stable name (`throughput.fo1.undici`): it is the `run` column of the printed table and the `id` of
 * each result in bench/report.json; display labels are free to change, ids are not.
 */
import type { LogStorage } from '../scenarios/delivery-log.js';
import type { PgShare } from './pg-backends.js';
import { loadAverage } from './proc.js';
import type { TargetCheck } from './stats.js';
import type { PortSummary } from '../receiver.js';

export type Transport = 'undici' | 'got';

/** Every run of the benchmark, by group (bench/README.md#scenarios). */
export type RunId =
  | 'ceiling.consume'
  | `ceiling.http.${Transport}`
  | 'ceiling.work'
  | `throughput.fo${1 | 3}.${Transport}`
  | 'throughput.fo1.heap0'
  | 'latency.half'
  | 'latency.quarter'
  | `log.off.${number}`
  | `log.all.${number}`
  | 'log.failures'
  | 'join.100k'
  | 'join.100k.heap0'
  | 'naive'
  | `isolation.${'ours' | 'peer'}.${'healthy' | 'hung'}`
  | 'peer.c10'
  | 'ours.c10'
  | OutageRunId
  | 'outage.drain'
  | 'profile.fo1.undici';

/** The outage group's live runs (bench/scenarios/outage.ts); `outage.drain` follows `outage.503`. */
export type OutageRunId =
  'outage.healthy' | 'outage.503' | 'outage.hung' | 'outage.slow.concurrent' | 'outage.slow.ordered';

export interface Load {
  readonly one: number;
  readonly five: number;
}

export function currentLoad(): Load {
  const l = loadAverage();
  return { one: l.one, five: l.five };
}

export interface RunResult {
  readonly id: RunId;
  readonly system: 'ours' | 'ceiling' | 'naive' | 'peer';
  readonly transport?: string;
  readonly fanOut?: number;
  readonly concurrency?: number;
  readonly subscriptions?: number;
  readonly expected: number;
  readonly delivered: number;
  readonly complete: boolean;
  /** Steady-state deliveries (or records) per second. */
  readonly rate: number | null;
  readonly cpuPercent: number | null;
  readonly cpuMicrosPerDelivery: number | null;
  readonly peakRssMb: number | null;
  readonly receiverCpuPercent?: number | null;
  readonly machineCpuPercent?: number | null;
  readonly seconds: number;
  readonly loadBefore: Load;
  readonly loadAfter: Load;
  readonly startup?: Record<string, number | null>;
  /**
   * Our connector's main thread (the event loop, where deliveries are made) over the measured window: CPU µs
   * per delivery and % of one core. A thread near 100 % is what bounds the rate; well under it, the
   * connector waits on something else (the receivers, the broker).
   */
  readonly mainThread?: { readonly cpuMicrosPerDelivery: number | null; readonly busyPercent: number | null };
  /** CPU µs per delivery of the Postgres processes serving the run (group `log`): see bench/lib/pg-backends.ts. */
  readonly postgresCpuMicrosPerDelivery?: Record<PgShare, number | null>;
  /** Our connector's own view: peak heap / external / arrayBuffers / RSS (MB). */
  readonly memory?: Record<string, number>;
  /** Our connector's metrics at the end: attempts by result, deliveries by outcome. */
  readonly outcomes?: Record<string, number>;
  /** The delivery log's rows and bytes on disk after the run (group `log`, all runs). */
  readonly logStorage?: LogStorage;
  /** Our connector's event-loop delay over the run (ms): p50, p99, max. */
  readonly eventLoopDelayMs?: Record<string, number>;
  readonly latency?: PortSummary['latency'] & {
    ratePerSec: number;
    produced: number;
    arrived: number;
    producerMaxLagMs: number;
    /** Pre-loaded events drained before live production started, and how long that took. */
    warmupEvents: number;
    warmupSeconds: number;
  };
  /** Group `outage` (bench/scenarios/outage.ts): healthy subscribers' latency, parks, drain, slow receiver. */
  readonly outage?: OutageDetail;
  readonly notes: string[];
  readonly error?: string;
}

/** Finds a run of this benchmark by id (only runs that succeeded). */
export type FindRun = (id: RunId) => RunResult | undefined;

export type OutageFailure = 'none' | '503' | 'hang' | 'slow';

/** What an outage run adds to its RunResult (`outage` field). */
export interface OutageDetail {
  readonly failure: OutageFailure;
  /** Ordering of the failing/slow subscriber's subscription. */
  readonly ordering: 'concurrent' | 'ordered';
  readonly eventsPerSec: number;
  readonly deliveriesPerSec: number;
  readonly liveSeconds: number;
  readonly produced: number;
  /** Healthy subscribers' live deliveries that arrived, of `expected`. */
  readonly healthyArrived: number;
  readonly healthyExpected: number;
  readonly healthyLatency: PortSummary['latency'];
  /** Parks during the live phase, by reason, and per second. */
  readonly parks: Record<string, number>;
  readonly parksPerSec: number;
  readonly pausedPartitionsMax: number;
  readonly circuitTransitions: Record<string, number>;
  /** Rows in state 'parked' when the live phase ended (+ the wait for the healthy ones). */
  readonly parkedAtEnd: number;
  readonly deadLetters: number;
  /** Slow runs: deliveries/s that reached the slow subscriber during the live phase, and how many of its live events. */
  readonly slowOriginRate?: number | null;
  readonly slowOriginArrived?: number;
  readonly drain?: DrainDetail;
}

export interface DrainDetail {
  readonly parkedAtRecovery: number;
  readonly delivered: number;
  /** Deliveries/s at the recovered receiver between 10 % and 90 % of the parked rows. */
  readonly ratePerSec: number | null;
  /** Recovery → first delivery at the recovered receiver (the breaker's probe). */
  readonly firstDeliveryAfterMs: number | null;
  /** Recovery → no row left parked (or the cap). */
  readonly seconds: number;
  readonly leftParked: number;
  readonly claims: number;
  readonly cpuPercent: number | null;
  readonly cpuMicrosPerDelivery: number | null;
}

/** One line of the comparisons: `id` is stable (code finds it by that), `name` is what the table prints. */
export interface Comparison {
  readonly id: string;
  readonly name: string;
  readonly value: number | null;
  readonly detail: string;
}

/** One line of the targets table; `id` as for Comparison. */
export interface TargetRow extends TargetCheck {
  readonly id: string;
  readonly target: string;
  readonly detail: string;
}
