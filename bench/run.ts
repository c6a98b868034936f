/**
 * `npm run bench`: the connector against its ceilings, a naive baseline and the closest open-source peer,
 * on the local broker and Postgres, every scenario in the same run so ratios are fair on a noisy machine.
 * See bench/README.md for what each scenario measures and how to read the numbers.
 *
 *   npm run bench                    full run (~5 min on 2 cores; +35 s the first time: peer install)
 *   BENCH_QUICK=1 npm run bench      smaller data and shorter caps, for development (~4 min)
 *   BENCH_PROFILE=1 npm run bench    adds a --cpu-prof run of the throughput scenario and its top self times
 *   BENCH_ONLY=ceilings,throughput   only these groups (ceilings, throughput, log, got, join, heap, latency, naive,
 *                                    isolation, peer, outage, profile); ratios need their ceilings in the same run
 *
 * Why one long file: the scenarios run in a fixed order and read each other's results (the latency runs
 * take half the fan-out-1 rate just measured, every ratio finds its ceilings by name), so the run reads
 * top to bottom as it executes; the reusable parts (data, processes, statistics, profile, peer) are
 * under bench/lib.
 *
 * Processes: this orchestrator (producer, control), the receivers (bench/receiver.ts), and one process
 * per system under test (bench/connector-driver.ts, the ceilings, bench/naive.ts, the peer's wattpm), each
 * measured from /proc. Deliveries are counted at the receiver.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { buildForBench, forkBuilt, REPO_ROOT, sleep, type Child } from './lib/child.js';
import {
  createSubscriptionDb,
  createTopics,
  deleteTopics,
  dropDatabases,
  EVENTS_IN_TOPIC,
  EVENT_NAMES,
  globalSubscriptions,
  PARTITIONS,
  preload,
  produceAtRate,
  projectSubscriptions,
  withAdmin,
} from './lib/data.js';
import { configSpec } from '../src/config.js';
import { ensurePeer, startPeer } from './lib/peer.js';
import { PgBackendMonitor, type PgShare } from './lib/pg-backends.js';
import { loadAverage, MachineMonitor, machineDescription, ProcMonitor } from './lib/proc.js';
import { selfTimeByArea, topSelfTime, type SelfTime } from './lib/profile.js';
import {
  atLeast,
  atMost,
  ceilingFor,
  serialBound,
  cpuMicrosPerItem,
  cpuPercent,
  ratio,
  type TargetCheck,
} from './lib/stats.js';
import type { PortSummary, ReceiverMode } from './receiver.js';
import {
  OUTAGE_CONCURRENCY,
  OUTAGE_ENV,
  OUTAGE_SECONDS,
  SLOW_SECONDS,
  outageComparisons,
  outageMarkdown,
  runOutage,
  type OutageContext,
  type OutageDetail,
} from './scenarios/outage.js';
import { logComparisons, logRunEnv, logRuns, truncateLog } from './scenarios/delivery-log.js';

// ------------------------------------------------------------------------------------------ settings

const QUICK = process.env.BENCH_QUICK === '1';
const PROFILE = process.env.BENCH_PROFILE === '1';
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',').map((s) => s.trim())) : null;
const wants = (group: string): boolean => (ONLY === null ? group !== 'profile' || PROFILE : ONLY.has(group));

/** Sizes and per-scenario time caps (seconds). */
const S = QUICK
  ? {
      events: 20_000,
      isoEvents: 2_000,
      capConsume: 30,
      capHttp: 6,
      capFo1: 20,
      capFo3: 12,
      capGot: 12,
      capJoin: 20,
      latencySeconds: 8,
      latencyWarmup: 5_000,
      capNaive: 8,
      capIso: 12,
      capC10: 12,
      capPeerIso: 12,
      capProfile: 15,
    }
  : {
      events: 100_000,
      isoEvents: 3_000,
      capConsume: 60,
      capHttp: 10,
      capFo1: 45,
      capFo3: 25,
      capGot: 20,
      capJoin: 40,
      latencySeconds: 15,
      latencyWarmup: 20_000,
      capNaive: 15,
      capIso: 15,
      capC10: 20,
      capPeerIso: 15,
      capProfile: 25,
    };

/** The connector's settings in every run (the HTTP ceilings use the same). */
const CONCURRENCY = 256;
const CONNECTIONS_PER_ORIGIN = 64;
/** Investigation: extra Node flags for our connector's process (BENCH_NODE_FLAGS, e.g. V8 GC settings);
 * BENCH_ECHO=1 copies its output to stderr. */
const EXTRA_NODE_FLAGS = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '');

/** The connector's V8 heap growth limit (its default unless BENCH_HEAP_GROWTH says otherwise). */
const HEAP_GROWTH = Number(process.env.BENCH_HEAP_GROWTH ?? configSpec.HEAP_GROWTH_PERCENT.default);

/** Records per partition taken and not yet done (the connector's default unless BENCH_WINDOW says otherwise). */
const WINDOW = Number(process.env.BENCH_WINDOW ?? configSpec.PARTITION_MAX_IN_FLIGHT.default);
/** Rounds of the log group (off, all) before its last off run (bench/scenarios/delivery-log.ts). */
const LOG_ROUNDS = Math.max(1, Number(process.env.BENCH_LOG_ROUNDS ?? 3));
const ISOLATION_TIMEOUT_MS = 5_000;
/** Isolation rates are taken over a fixed window that starts this long after the first delivery/ready. */
const ISOLATION_WARMUP_MS = 2_000;
const ISOLATION_SUBSCRIBERS = 10;

const RUN = `r${Date.now().toString(36)}`;
const TOPIC_PREFIX = 'bench.';
const DB_PREFIX = 'bench_';
const GROUP_PREFIX = 'bench-';
const topics = {
  events: `${TOPIC_PREFIX}events.${RUN}`,
  iso: `${TOPIC_PREFIX}iso.${RUN}`,
  isoPeer: (k: number) => `${TOPIC_PREFIX}iso.${RUN}.peer${k}`,
  latency: `${TOPIC_PREFIX}latency.${RUN}`,
  latencyQuarter: `${TOPIC_PREFIX}latency-quarter.${RUN}`,
  peerDlq: `${TOPIC_PREFIX}peer-dlq.${RUN}`,
};

const t0 = Date.now();
const log = (line: string): void =>
  void process.stderr.write(`[bench ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);

// ------------------------------------------------------------------------------------------- results

interface Load {
  readonly one: number;
  readonly five: number;
}

export interface RunResult {
  readonly name: string;
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
  /** CPU µs per delivery of the Postgres processes serving the run (group `log`): see bench/lib/pg-backends.ts. */
  readonly postgresCpuMicrosPerDelivery?: Record<PgShare, number | null>;
  /** Our connector's own view: peak heap / external / arrayBuffers / RSS (MB). */
  readonly memory?: Record<string, number>;
  /** Our connector's metrics at the end: attempts by result, deliveries by outcome. */
  readonly outcomes?: Record<string, number>;
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

const results: RunResult[] = [];
const errors: string[] = [];

function load(): Load {
  const l = loadAverage();
  return { one: l.one, five: l.five };
}

function find(name: string): RunResult | undefined {
  return results.find((r) => r.name === name && r.error === undefined);
}

// ------------------------------------------------------------------------------------------ receivers

let receiver: Child;
let receiverMon: ProcMonitor;
const machine = new MachineMonitor();
let mainPort = 0;
let isoPorts: number[] = [];
const url = (port: number, path = '/hook'): string => `http://127.0.0.1:${port}${path}`;

async function startReceivers(): Promise<void> {
  receiver = forkBuilt('receiver', 'bench/receiver.ts', {
    env: { RECEIVER_PORTS: String(1 + ISOLATION_SUBSCRIBERS) },
  });
  const hello = await receiver.message<{ result: { ports: number[] } }>((m) => m.id === 0, 30_000);
  [mainPort = 0, ...isoPorts] = hello.result.ports;
  receiverMon = new ProcMonitor(receiver.pid);
}

const resetReceiver = (latency = false): Promise<unknown> => receiver.call({ cmd: 'reset', latency });
const setMode = (port: number, mode: ReceiverMode): Promise<unknown> =>
  receiver.call({ cmd: 'mode', port, mode });
async function counted(ports: readonly number[]): Promise<number> {
  const counts = await receiver.call<Record<string, number>>({ cmd: 'counts' });
  return ports.reduce((n, p) => n + (counts[p] ?? 0), 0);
}
const summarize = (ports: readonly number[], extra: Record<string, unknown> = {}): Promise<PortSummary> =>
  receiver.call<PortSummary>({ cmd: 'summary', ports, ...extra }, 120_000);

/** Polls the receiver until `expected` deliveries on `ports` or `capSeconds` after `startMs`. */
async function waitDeliveries(
  ports: readonly number[],
  expected: number,
  startMs: number,
  capSeconds: number,
  alive?: () => boolean,
): Promise<number> {
  for (;;) {
    const n = await counted(ports);
    if (n >= expected || Date.now() - startMs >= capSeconds * 1000 || (alive && !alive())) return Date.now();
    await sleep(200);
  }
}

// --------------------------------------------------------------------------------------- the systems

interface Measured {
  readonly delivered: number;
  readonly complete: boolean;
  readonly rate: number | null;
  readonly cpuPercent: number | null;
  readonly cpuMicrosPerDelivery: number | null;
  readonly peakRssMb: number | null;
  /** The receivers' CPU in the same window: near 100 % would mean the receiver, not the system under test, limits. */
  readonly receiverCpuPercent: number | null;
  /** The whole machine's busy CPU in the window, % of one core (200 = both cores saturated). */
  readonly machineCpuPercent: number | null;
  /** The measured window (wall clock) and the deliveries in it. */
  readonly window: { from: number; to: number; count: number } | null;
}

/** Rate towards `expected` on `ports` (bench/lib/stats.ts steadyRateToTarget) and the CPU spent in that window. */
async function measure(
  ports: readonly number[],
  expected: number,
  startMs: number,
  endMs: number,
  mon: ProcMonitor,
  hi = 0.9,
  warmupMs?: number,
): Promise<Measured> {
  const s = await summarize(ports, { expected, startMs, endMs, hi, warmupMs });
  const t = s.target!;
  const cpuMs = t.from !== null && t.to !== null ? mon.cpuBetween(t.from, t.to) : null;
  const receiverCpuMs = t.from !== null && t.to !== null ? receiverMon.cpuBetween(t.from, t.to) : null;
  return {
    machineCpuPercent: t.from !== null && t.to !== null ? machine.busyPercentBetween(t.from, t.to) : null,
    receiverCpuPercent:
      receiverCpuMs !== null && t.from !== null && t.to !== null
        ? cpuPercent(receiverCpuMs, t.to - t.from)
        : null,
    delivered: s.count,
    complete: t.complete,
    rate: t.rate,
    cpuPercent: cpuMs !== null && t.from !== null && t.to !== null ? cpuPercent(cpuMs, t.to - t.from) : null,
    cpuMicrosPerDelivery: cpuMicrosPerItem(cpuMs, t.count),
    peakRssMb: mon.peakRssMb,
    window: t.from !== null && t.to !== null ? { from: t.from, to: t.to, count: t.count } : null,
  };
}

interface OursOptions {
  readonly name: string;
  readonly topic: string;
  readonly databaseUrl: string;
  readonly subscriptions: number;
  readonly transport: 'undici' | 'got';
  readonly fanOut: number;
  readonly ports: readonly number[];
  readonly expected: number;
  readonly capSeconds: number;
  /** End of the measured window as a fraction of `expected` (default 0.9). */
  readonly hi?: number;
  /** Instead of the 10–90 % window: a fixed window from ready + warm-up to the last delivery or the cap. */
  readonly warmupMs?: number;
  readonly concurrency?: number;
  readonly env?: Record<string, string>;
  readonly nodeFlags?: readonly string[];
  /** Called once the connector is ready (e.g. to start producing); the run then waits for the deliveries. */
  readonly whenReady?: () => Promise<void>;
  /** Also measure the Postgres processes serving the run (bench/lib/pg-backends.ts). */
  readonly postgres?: boolean;
}

function ourEnv(
  o: Pick<OursOptions, 'name' | 'topic' | 'databaseUrl' | 'transport' | 'concurrency' | 'env'>,
): Record<string, string> {
  return {
    KAFKA_BROKERS: '127.0.0.1:9092',
    KAFKA_TOPICS: o.topic,
    KAFKA_GROUP_ID: `${GROUP_PREFIX}${RUN}-${o.name}`,
    KAFKA_CLIENT_ID: `bench-${o.name}`,
    KAFKA_FROM_BEGINNING: 'true',
    DATABASE_URL: o.databaseUrl,
    TARGET_ALLOW_CIDRS: '127.0.0.1/32',
    OPS_HOST: '127.0.0.1',
    OPS_PORT: '0',
    LOG_LEVEL: 'warn',
    HTTP_CLIENT: o.transport,
    DELIVERY_CONCURRENCY: String(o.concurrency ?? CONCURRENCY),
    HTTP_CONNECTIONS_PER_ORIGIN: String(CONNECTIONS_PER_ORIGIN),
    PARTITION_MAX_IN_FLIGHT: String(WINDOW),
    HEAP_GROWTH_PERCENT: String(HEAP_GROWTH),
    SHUTDOWN_DRAIN_TIMEOUT_MS: '1000',
    ...o.env,
  };
}

async function runOurs(o: OursOptions): Promise<RunResult> {
  await resetReceiver(o.whenReady !== undefined);
  const loadBefore = load();
  const began = Date.now();
  const child = forkBuilt(`connector ${o.name}`, 'bench/connector-driver.ts', {
    env: ourEnv(o),
    nodeFlags: [...(o.nodeFlags ?? []), ...EXTRA_NODE_FLAGS],
    echo: process.env.BENCH_ECHO === '1',
  });
  const mon = new ProcMonitor(child.pid);
  const pgMon = o.postgres ? await PgBackendMonitor.start(o.databaseUrl) : undefined;
  try {
    const started = await child.message<Record<string, number | null>>((m) => m.type === 'started', 90_000);
    const startMs = Date.now();
    if (o.whenReady) await o.whenReady();
    const endMs = await waitDeliveries(o.ports, o.expected, startMs, o.capSeconds, () => child.isAlive());
    if (!child.isAlive()) throw new Error(`connector exited early:\n${child.output().slice(-3000)}`);
    const { window, ...m } = await measure(o.ports, o.expected, startMs, endMs, mon, o.hi, o.warmupMs);
    const startup = Object.fromEntries(Object.entries(started).filter(([k]) => k !== 'type'));
    mon.stop();
    await pgMon?.stop();
    const pgMicros = (share: PgShare): number | null =>
      window && pgMon
        ? cpuMicrosPerItem(pgMon.cpuBetween(share, window.from, window.to), window.count)
        : null;
    const postgres = pgMon
      ? { log: pgMicros('log'), other: pgMicros('other'), background: pgMicros('background') }
      : undefined;
    child.process.send({ cmd: 'stop' });
    const final = await child
      .message<{
        peak: Record<string, number>;
        outcomes: Record<string, number>;
        eventLoopDelayMs: Record<string, number>;
      }>((x) => x.type === 'final', 10_000)
      .catch(() => null);
    const failedAttempts = Object.entries(final?.outcomes ?? {})
      .filter(([k]) => k.startsWith('attempts.') && k !== 'attempts.success')
      .reduce((n, [, v]) => n + v, 0);
    return {
      name: o.name,
      system: 'ours',
      transport: o.transport,
      fanOut: o.fanOut,
      concurrency: o.concurrency ?? CONCURRENCY,
      subscriptions: o.subscriptions,
      expected: o.expected,
      ...m,
      seconds: (Date.now() - began) / 1000,
      loadBefore,
      loadAfter: load(),
      startup,
      ...(postgres && { postgresCpuMicrosPerDelivery: postgres }),
      memory: final?.peak,
      outcomes: final?.outcomes,
      eventLoopDelayMs: final?.eventLoopDelayMs,
      notes: failedAttempts > 0 ? [`${failedAttempts} failed attempt(s)`] : [],
    };
  } finally {
    mon.stop();
    await pgMon?.stop();
    if (child.isAlive()) child.process.send?.({ cmd: 'stop' });
    await Promise.race([child.exited, sleep(10_000)]);
    await child.kill();
  }
}

async function runPeer(
  name: string,
  routes: { topic: string; url: string }[],
  ports: readonly number[],
  expected: number,
  capSeconds: number,
  warmupMs?: number,
): Promise<RunResult> {
  await resetReceiver();
  const loadBefore = load();
  const began = Date.now();
  const peer = startPeer({
    name,
    groupId: `${GROUP_PREFIX}${RUN}-${name}`,
    routes,
    concurrency: 10,
    dlqTopic: topics.peerDlq,
    timeoutMs: ISOLATION_TIMEOUT_MS,
    retries: 3,
    retryDelayMs: 1_000,
  });
  const mon = new ProcMonitor(peer.pid);
  try {
    // Its start-up (Watt runtime, worker thread, group join) is not part of the measured window: the
    // clock starts at the first request it sends (to any of its targets, a hung one included).
    const routePorts = routes.map((r) => Number(new URL(r.url).port));
    for (;;) {
      const seen = await receiver.call<Record<string, number>>({ cmd: 'seen' });
      if (routePorts.some((p) => (seen[p] ?? 0) > 0)) break;
      if (!peer.isAlive()) throw new Error(`peer exited:\n${peer.output().slice(-3000)}`);
      if (Date.now() - began > 120_000) {
        throw new Error(`peer delivered nothing in 120 s:\n${peer.output().slice(-3000)}`);
      }
      await sleep(100);
    }
    const startMs = Date.now();
    const endMs = await waitDeliveries(ports, expected, startMs, capSeconds, () => peer.isAlive());
    const m = await measure(ports, expected, startMs, endMs, mon, 0.9, warmupMs);
    return {
      name,
      system: 'peer',
      transport: 'undici (global dispatcher)',
      fanOut: 1,
      concurrency: 10,
      expected,
      ...m,
      seconds: (Date.now() - began) / 1000,
      loadBefore,
      loadAfter: load(),
      startup: { firstDeliveryAfterMs: startMs - began },
      notes: [`${routes.length} topic route(s)`],
    };
  } finally {
    mon.stop();
    await peer.kill('SIGTERM');
    // Watt's runtime may have forked: end what is left of the tree by PID (only processes running the peer).
    for (const pid of mon.treePids().filter(isPeerProcess)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}

function isPeerProcess(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('bench/.peer/');
  } catch {
    return false;
  }
}

async function runCeilingConsume(): Promise<RunResult> {
  const loadBefore = load();
  const began = Date.now();
  const child = forkBuilt('consume-ceiling', 'bench/consume-ceiling.ts', {
    env: {
      KAFKA_BROKERS: '127.0.0.1:9092',
      KAFKA_TOPICS: topics.events,
      KAFKA_GROUP_ID: `${GROUP_PREFIX}${RUN}-consume-ceiling`,
      EXPECT: String(S.events),
      SECONDS: String(S.capConsume),
      LOG_LEVEL: 'warn',
    },
  });
  const mon = new ProcMonitor(child.pid);
  try {
    const r = await child.message<{
      count: number;
      rate: number | null;
      window: { from: number; to: number; count: number } | null;
    }>((m) => m.type === 'result', (S.capConsume + 60) * 1000);
    const cpuMs = r.window ? mon.cpuBetween(r.window.from, r.window.to) : null;
    return {
      name: 'ceiling.consume',
      system: 'ceiling',
      expected: S.events,
      delivered: r.count,
      complete: r.count >= S.events,
      rate: r.rate,
      cpuPercent: cpuMs !== null && r.window ? cpuPercent(cpuMs, r.window.to - r.window.from) : null,
      cpuMicrosPerDelivery: r.window ? cpuMicrosPerItem(cpuMs, r.window.count) : null,
      machineCpuPercent: r.window ? machine.busyPercentBetween(r.window.from, r.window.to) : null,
      peakRssMb: mon.peakRssMb,
      seconds: (Date.now() - began) / 1000,
      loadBefore,
      loadAfter: load(),
      notes: ['records/s, no-op eachBatch handler'],
    };
  } finally {
    mon.stop();
    await child.kill();
  }
}

async function runCeilingWork(): Promise<RunResult> {
  const loadBefore = load();
  const began = Date.now();
  const child = forkBuilt('work-ceiling', 'bench/work-ceiling.ts', {
    env: { SECONDS: String(QUICK ? 3 : 5), FAN_OUT: '1' },
  });
  const mon = new ProcMonitor(child.pid);
  try {
    const r = await child.message<{ deliveries: number; ratePerSec: number; cpuMicrosPerDelivery: number }>(
      (m) => m.type === 'result',
      60_000,
    );
    return {
      name: 'ceiling.work',
      system: 'ceiling',
      concurrency: 1,
      expected: r.deliveries,
      delivered: r.deliveries,
      complete: true,
      rate: r.ratePerSec,
      cpuPercent: null,
      cpuMicrosPerDelivery: r.cpuMicrosPerDelivery,
      peakRssMb: mon.peakRssMb,
      seconds: (Date.now() - began) / 1000,
      loadBefore,
      loadAfter: load(),
      notes: ['decode + envelope + 3 HMACs + headers per delivery, no Kafka, no HTTP, one thread'],
    };
  } finally {
    mon.stop();
    await child.kill();
  }
}

async function runCeilingHttp(transport: 'undici' | 'got'): Promise<RunResult> {
  await resetReceiver();
  const loadBefore = load();
  const began = Date.now();
  const child = forkBuilt(`http-ceiling ${transport}`, 'bench/http-ceiling.ts', {
    env: {
      HTTP_CLIENT: transport,
      TARGET_URL: url(mainPort),
      CONCURRENCY: String(CONCURRENCY),
      SECONDS: String(S.capHttp),
      HTTP_CONNECTIONS_PER_ORIGIN: String(CONNECTIONS_PER_ORIGIN),
      TARGET_ALLOW_CIDRS: '127.0.0.1/32',
      LOG_LEVEL: 'warn',
    },
  });
  const mon = new ProcMonitor(child.pid);
  try {
    const r = await child.message<{ sent: number; failures: number }>(
      (m) => m.type === 'result',
      (S.capHttp + 60) * 1000,
    );
    const s = await summarize([mainPort]);
    const cpuMs = s.window ? mon.cpuBetween(s.window.from, s.window.to) : null;
    const receiverCpuMs = s.window ? receiverMon.cpuBetween(s.window.from, s.window.to) : null;
    return {
      machineCpuPercent: s.window ? machine.busyPercentBetween(s.window.from, s.window.to) : null,
      receiverCpuPercent:
        receiverCpuMs !== null && s.window ? cpuPercent(receiverCpuMs, s.window.to - s.window.from) : null,
      name: `ceiling.http.${transport}`,
      system: 'ceiling',
      transport,
      concurrency: CONCURRENCY,
      expected: r.sent,
      delivered: s.count,
      complete: true,
      rate: s.steadyRate,
      cpuPercent: cpuMs !== null && s.window ? cpuPercent(cpuMs, s.window.to - s.window.from) : null,
      cpuMicrosPerDelivery: s.window ? cpuMicrosPerItem(cpuMs, s.window.count) : null,
      peakRssMb: mon.peakRssMb,
      seconds: (Date.now() - began) / 1000,
      loadBefore,
      loadAfter: load(),
      notes: [`${r.failures} failed`, 'precomputed signed bodies'],
    };
  } finally {
    mon.stop();
    await child.kill();
  }
}

async function runNaive(databaseUrl: string): Promise<RunResult> {
  await resetReceiver();
  const loadBefore = load();
  const began = Date.now();
  const child = forkBuilt('naive', 'bench/naive.ts', {
    env: {
      KAFKA_BROKERS: '127.0.0.1:9092',
      KAFKA_TOPICS: topics.events,
      KAFKA_GROUP_ID: `${GROUP_PREFIX}${RUN}-naive`,
      DATABASE_URL: databaseUrl,
      TARGET_ALLOW_CIDRS: '127.0.0.1/32',
      HTTP_CLIENT: 'undici',
      HTTP_CONNECTIONS_PER_ORIGIN: String(CONNECTIONS_PER_ORIGIN),
      SECONDS: String(S.capNaive + 10),
      LOG_LEVEL: 'warn',
    },
  });
  const mon = new ProcMonitor(child.pid);
  try {
    // Its clock starts at the first delivery, like the peer's.
    while ((await counted([mainPort])) === 0) {
      if (!child.isAlive()) throw new Error(`naive exited:\n${child.output().slice(-3000)}`);
      if (Date.now() - began > 60_000) throw new Error('naive delivered nothing in 60 s');
      await sleep(100);
    }
    const startMs = Date.now();
    const endMs = await waitDeliveries([mainPort], S.events, startMs, S.capNaive, () => child.isAlive());
    const m = await measure([mainPort], S.events, startMs, endMs, mon);
    return {
      name: 'naive',
      system: 'naive',
      transport: 'undici',
      fanOut: 1,
      concurrency: 1,
      subscriptions: EVENTS_IN_TOPIC,
      expected: S.events,
      ...m,
      seconds: (Date.now() - began) / 1000,
      loadBefore,
      loadAfter: load(),
      notes: ['eachMessage, await each POST, commit per message'],
    };
  } finally {
    mon.stop();
    await child.kill();
  }
}

// ---------------------------------------------------------------------------------------------- setup

function infraUp(): void {
  const script = join(REPO_ROOT, 'test/infra/infra.sh');
  if (!existsSync(script)) {
    throw new Error('test/infra/infra.sh is missing: the benchmark starts the broker and Postgres with it');
  }
  try {
    execFileSync('bash', [script, 'status'], { stdio: 'ignore' });
    log('infra: broker, registry and Postgres already up');
  } catch {
    log('infra: starting the broker and Postgres (test/infra/infra.sh up)');
    execFileSync('bash', [script, 'up'], { stdio: ['ignore', 'inherit', 'inherit'] });
  }
}

async function cleanup(): Promise<void> {
  const deleted = await deleteTopics(TOPIC_PREFIX).catch(() => []);
  await withAdmin(async (admin) => {
    const { groups } = await admin.listGroups();
    const mine = groups.map((g) => g.groupId).filter((g) => g.startsWith(GROUP_PREFIX));
    if (mine.length > 0) await admin.deleteGroups(mine).catch(() => undefined);
  }).catch(() => undefined);
  await dropDatabases(DB_PREFIX).catch(() => undefined);
  if (deleted.length > 0) log(`cleanup: deleted ${deleted.length} bench topic(s)`);
}

async function waitTopicsGone(): Promise<void> {
  for (let k = 0; k < 50; k++) {
    const left = await withAdmin(async (admin) =>
      (await admin.listTopics()).filter((t) => t.startsWith(TOPIC_PREFIX)),
    );
    if (left.length === 0) return;
    await sleep(200);
  }
}

// ---------------------------------------------------------------------------------------------- main

async function scenario(name: string, fn: () => Promise<RunResult | RunResult[] | void>): Promise<void> {
  const began = Date.now();
  log(`${name}: start (load ${loadAverage().one.toFixed(2)})`);
  try {
    const r = await fn();
    for (const x of Array.isArray(r) ? r : r ? [r] : []) {
      results.push(x);
      log(
        `${name}: ${x.name} ${x.rate === null ? 'n/a' : `${x.rate.toFixed(0)}/s`} (${x.delivered}/${x.expected} delivered${x.complete ? '' : ', capped'}) cpu ${x.cpuPercent?.toFixed(0) ?? '?'}% rss ${x.peakRssMb?.toFixed(0) ?? '?'} MB`,
      );
    }
  } catch (err) {
    const message = (err as Error).stack ?? String(err);
    errors.push(`${name}: ${message}`);
    log(`${name}: FAILED ${message.slice(0, 2000)}`);
  }
  log(`${name}: ${((Date.now() - began) / 1000).toFixed(1)} s`);
}

async function main(): Promise<void> {
  process.on('SIGINT', () => process.exit(130));
  log(
    `run ${RUN}${QUICK ? ' (BENCH_QUICK)' : ''}: ${S.events.toLocaleString('en')} events of ~1 KiB over ${PARTITIONS} partitions`,
  );
  const buildStart = Date.now();
  buildForBench();
  log(`compiled src/ and bench/ into bench/.build in ${((Date.now() - buildStart) / 1000).toFixed(1)} s`);
  infraUp();
  let peerInfo: string | null = null;
  let peerError: string | null = null;
  if (wants('peer') || wants('isolation')) {
    try {
      peerInfo = ensurePeer(log);
    } catch (err) {
      peerError = (err as Error).message;
      log(`peer: cannot be installed here: ${peerError}`);
    }
  }
  await cleanup();
  await waitTopicsGone();
  await startReceivers();

  const setupBegan = Date.now();
  await createTopics([
    topics.events,
    topics.iso,
    topics.latency,
    topics.latencyQuarter,
    ...Array.from({ length: ISOLATION_SUBSCRIBERS }, (_, k) => topics.isoPeer(k)),
  ]);
  await createTopics([topics.peerDlq], 1);
  await preload([topics.events], RUN, S.events);
  if (wants('isolation')) {
    await preload(
      [topics.iso, ...Array.from({ length: ISOLATION_SUBSCRIBERS }, (_, k) => topics.isoPeer(k))],
      `${RUN}i`,
      S.isoEvents,
    );
  }
  const db = {
    fo1: await createSubscriptionDb(
      `${DB_PREFIX}fo1`,
      globalSubscriptions(1, () => url(mainPort)),
    ),
    fo3:
      wants('throughput') || wants('got')
        ? await createSubscriptionDb(
            `${DB_PREFIX}fo3`,
            globalSubscriptions(3, (k) => url(mainPort, `/hook/${k}`)),
          )
        : '',
    iso: wants('isolation')
      ? await createSubscriptionDb(
          `${DB_PREFIX}iso`,
          globalSubscriptions(ISOLATION_SUBSCRIBERS, (k) => url(isoPorts[k]!)),
        )
      : '',
    join:
      wants('join') || wants('heap')
        ? await createSubscriptionDb(
            `${DB_PREFIX}join`,
            projectSubscriptions((p, e) => url(mainPort, `/s/${p}/${e}`)),
          )
        : '',
  };
  const setupSeconds = (Date.now() - setupBegan) / 1000;
  log(`setup: topics pre-loaded and subscription databases ready in ${setupSeconds.toFixed(1)} s`);

  const ours = (name: string, o: Partial<OursOptions>): Promise<RunResult> =>
    runOurs({
      name,
      topic: topics.events,
      databaseUrl: db.fo1,
      subscriptions: EVENTS_IN_TOPIC,
      transport: 'undici',
      fanOut: 1,
      ports: [mainPort],
      expected: S.events,
      capSeconds: S.capFo1,
      ...o,
    });

  if (wants('ceilings')) {
    await scenario('ceiling a (consume)', runCeilingConsume);
    await scenario('ceiling b (http undici)', () => runCeilingHttp('undici'));
    await scenario('ceiling c (http got)', () => runCeilingHttp('got'));
    await scenario('ceiling d (per-delivery work, no I/O)', () => runCeilingWork());
  }
  // The outage group runs at half the fan-out-1 maximum: measured here when the group runs without it.
  const needMax = wants('outage') && !wants('throughput') && !process.env.BENCH_LATENCY_RATE;
  if (wants('throughput') || needMax) {
    await scenario('throughput fan-out 1 (undici)', () => ours('throughput.fo1.undici', {}));
  }
  // Right after the maximum it is half of, so the machine's load has had the least time to change.
  if (wants('latency')) {
    /**
     * Events produced live at `fraction` of the fan-out-1 maximum into a topic the connector tails, after a
     * warm-up: the topic first holds `latencyWarmup` events, which the freshly started connector drains
     * (JIT, keep-alive connections, Kafka fetch sessions), and live production starts once they all
     * arrived. Every live event is measured. How long a cold process takes to catch up is the throughput
     * runs' business, not this one's.
     */
    const latencyAt = async (name: string, topic: string, fraction: number): Promise<RunResult> => {
      const forced = Number(process.env.BENCH_LATENCY_RATE ?? 0) * fraction;
      const max = find('throughput.fo1.undici')?.rate;
      if (!max && !forced) throw new Error('needs throughput.fo1.undici in the same run (the maximum)');
      const perSecond = Math.max(10, Math.round(forced || max! * fraction));
      const warm = S.latencyWarmup;
      const live = Math.floor(perSecond * S.latencySeconds);
      await preload([topic], `${RUN}${name}w`, warm);
      let produced = { produced: 0, maxLagMs: 0 };
      let produceStart = 0;
      let warmSeconds = 0;
      const r = await ours(name, {
        topic,
        expected: warm + live,
        capSeconds: S.latencySeconds + 10,
        whenReady: async () => {
          const began = Date.now();
          while ((await counted([mainPort])) < warm) {
            if (Date.now() - began > 60_000) throw new Error('warm-up backlog not delivered within 60 s');
            await sleep(20);
          }
          warmSeconds = (Date.now() - began) / 1000;
          produceStart = Date.now();
          produced = await produceAtRate(topic, `${RUN}${name}`, perSecond, S.latencySeconds, warm);
        },
      });
      const s = await summarize([mainPort], { producedFromMs: produceStart });
      return {
        ...r,
        latency: {
          ...s.latency!,
          ratePerSec: perSecond,
          produced: produced.produced,
          arrived: s.latency!.count,
          producerMaxLagMs: produced.maxLagMs,
          warmupEvents: warm,
          warmupSeconds: warmSeconds,
        },
        notes: [
          `warm-up: ${warm} pre-loaded events drained in ${warmSeconds.toFixed(1)} s`,
          `then produced at ${perSecond}/s for ${S.latencySeconds} s`,
        ],
      };
    };
    await scenario('latency at half the maximum', () => latencyAt('latency.half', topics.latency, 0.5));
    await scenario('latency at a quarter of the maximum', () =>
      latencyAt('latency.quarter', topics.latencyQuarter, 0.25),
    );
  }
  // The delivery log's cost (bench/scenarios/delivery-log.ts): fan-out 1 with the log off and on, interleaved.
  if (wants('log')) {
    for (const name of logRuns(LOG_ROUNDS)) {
      await scenario(`delivery log: fan-out 1 (undici), ${name}`, async () => {
        await truncateLog(db.fo1);
        const r = await ours(name, { env: logRunEnv(name), postgres: true });
        const p = r.postgresCpuMicrosPerDelivery;
        log(
          `${name}: CPU µs/delivery connector ${r.cpuMicrosPerDelivery?.toFixed(1) ?? '?'}, Postgres log ${p?.log?.toFixed(1) ?? '?'} other ${p?.other?.toFixed(1) ?? '?'} background ${p?.background?.toFixed(1) ?? '?'}; machine ${r.machineCpuPercent?.toFixed(0) ?? '?'} %, load ${r.loadBefore.one.toFixed(2)} → ${r.loadAfter.one.toFixed(2)}`,
        );
        return r;
      });
    }
  }
  if (wants('throughput')) {
    await scenario('throughput fan-out 3 (undici)', () =>
      ours('throughput.fo3.undici', {
        databaseUrl: db.fo3,
        subscriptions: 3 * EVENTS_IN_TOPIC,
        fanOut: 3,
        expected: 3 * S.events,
        capSeconds: S.capFo3,
      }),
    );
  }
  if (wants('got')) {
    await scenario('throughput fan-out 1 (got)', () =>
      ours('throughput.fo1.got', { transport: 'got', capSeconds: S.capGot }),
    );
    await scenario('throughput fan-out 3 (got)', () =>
      ours('throughput.fo3.got', {
        transport: 'got',
        databaseUrl: db.fo3,
        subscriptions: 3 * EVENTS_IN_TOPIC,
        fanOut: 3,
        expected: 3 * S.events,
        capSeconds: S.capGot,
      }),
    );
  }
  if (wants('join')) {
    await scenario('join at scale (100,000 subscriptions)', () =>
      ours('join.100k', {
        databaseUrl: db.join,
        subscriptions: 1_000 * EVENT_NAMES.length,
        capSeconds: S.capJoin,
      }),
    );
  }
  // The memory/CPU trade of HEAP_GROWTH_PERCENT, in the same run: V8's own policy (0) on the same two runs.
  if (wants('heap') && HEAP_GROWTH !== 0) {
    await scenario('heap: fan-out 1 with HEAP_GROWTH_PERCENT=0', () =>
      ours('throughput.fo1.heap0', { env: { HEAP_GROWTH_PERCENT: '0' } }),
    );
    await scenario('heap: 100,000 subscriptions with HEAP_GROWTH_PERCENT=0', () =>
      ours('join.100k.heap0', {
        databaseUrl: db.join,
        subscriptions: 1_000 * EVENT_NAMES.length,
        capSeconds: S.capJoin,
        env: { HEAP_GROWTH_PERCENT: '0' },
      }),
    );
  }
  if (wants('naive')) await scenario('naive baseline', () => runNaive(db.fo1));
  if (wants('isolation')) {
    // Subscriber 0 hangs. For kafka-hooks (one topic per subscriber) that is the first topic of its config,
    // whose records come first in each fetch; were it the last, a pre-loaded backlog would let the other
    // nine drain before the hung records reach the head of its window, which live traffic never allows.
    const [hungPort = 0, ...healthy] = isoPorts;
    const isoOurs = (name: string): Promise<RunResult> =>
      ours(name, {
        topic: topics.iso,
        databaseUrl: db.iso,
        subscriptions: ISOLATION_SUBSCRIBERS * EVENTS_IN_TOPIC,
        fanOut: ISOLATION_SUBSCRIBERS,
        ports: healthy,
        expected: healthy.length * S.isoEvents,
        capSeconds: S.capIso,
        warmupMs: ISOLATION_WARMUP_MS,
        env: { DELIVERY_TIMEOUT_MS: String(ISOLATION_TIMEOUT_MS) },
      });
    await scenario('isolation: ours, all healthy', async () => {
      await setMode(hungPort, { kind: 'ok' });
      return isoOurs('isolation.ours.healthy');
    });
    await scenario('isolation: ours, one subscriber hangs', async () => {
      await setMode(hungPort, { kind: 'hang' });
      try {
        return await isoOurs('isolation.ours.hung');
      } finally {
        await setMode(hungPort, { kind: 'ok' });
      }
    });
  }
  if (wants('peer')) {
    if (peerError !== null) {
      errors.push(`peer: not run: ${peerError}`);
    } else {
      await scenario('peer: throughput at concurrency 10', () =>
        runPeer(
          'peer.c10',
          [{ topic: topics.events, url: url(mainPort, '/peer') }],
          [mainPort],
          S.events,
          S.capC10,
        ),
      );
      await scenario('ours: throughput at concurrency 10', () =>
        ours('ours.c10', { concurrency: 10, capSeconds: S.capC10 }),
      );
    }
  }
  if (wants('isolation') && peerError === null) {
    // Subscriber 0 hangs. For kafka-hooks (one topic per subscriber) that is the first topic of its config,
    // whose records come first in each fetch; were it the last, a pre-loaded backlog would let the other
    // nine drain before the hung records reach the head of its window, which live traffic never allows.
    const [hungPort = 0, ...healthy] = isoPorts;
    const routes = isoPorts.map((p, k) => ({ topic: topics.isoPeer(k), url: url(p, '/peer') }));
    await scenario('isolation: peer, all healthy', async () => {
      await setMode(hungPort, { kind: 'ok' });
      return runPeer(
        'isolation.peer.healthy',
        routes,
        healthy,
        healthy.length * S.isoEvents,
        S.capPeerIso,
        ISOLATION_WARMUP_MS,
      );
    });
    await scenario('isolation: peer, one subscriber hangs', async () => {
      await setMode(hungPort, { kind: 'hang' });
      try {
        return await runPeer(
          'isolation.peer.hung',
          routes,
          healthy,
          healthy.length * S.isoEvents,
          S.capPeerIso,
          ISOLATION_WARMUP_MS,
        );
      } finally {
        await setMode(hungPort, { kind: 'ok' });
      }
    });
  }
  if (wants('outage')) await outageGroup();
  let profile: { file: string; totalMs: number; top: SelfTime[]; areas: Record<string, number> } | null =
    null;
  if (wants('profile')) {
    await scenario('profile (--cpu-prof, throughput fan-out 1)', async () => {
      const dir = join(REPO_ROOT, 'bench/.profiles');
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      const r = await ours('profile.fo1.undici', {
        capSeconds: S.capProfile,
        nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${dir}`],
      });
      await sleep(500);
      // One profile per thread (tsx's loader runs in a worker): the main thread's is `CPU.<date>.<time>.<pid>.0.<seq>`.
      const file = readdirSync(dir)
        .filter((f) => /\.0\.\d+\.cpuprofile$/.test(f))
        .map((f) => join(dir, f))
        .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
      if (!file) throw new Error('no .cpuprofile written');
      profile = {
        file: file.replace(`${REPO_ROOT}/`, ''),
        ...topSelfTime(file, REPO_ROOT, 30),
        areas: selfTimeByArea(file, REPO_ROOT),
      };
      return { ...r, notes: ['profiled: slower than unprofiled'] };
    });
  }

  await receiver.call({ cmd: 'exit' }).catch(() => undefined);
  await cleanup();
  report({ peerInfo, peerError, setupSeconds, profile });
}

/**
 * Group `outage` (bench/scenarios/outage.ts): live load at half the fan-out-1 maximum (in deliveries/s over
 * the 10 subscribers) with subscriber 0 healthy, answering 503 (then the drain of its parked deliveries),
 * hung; then 200-ms answers in each ordering mode.
 */
async function outageGroup(): Promise<void> {
  const forced = Number(process.env.BENCH_LATENCY_RATE ?? 0);
  const max = forced || find('throughput.fo1.undici')?.rate;
  if (!max) {
    errors.push('outage: not run: needs throughput.fo1.undici (the maximum) or BENCH_LATENCY_RATE');
    return;
  }
  const eventsPerSec = Math.max(1, Math.round(max / 2 / ISOLATION_SUBSCRIBERS));
  const ctx: OutageContext = {
    receiver,
    receiverMon,
    machine,
    ports: isoPorts,
    run: RUN,
    topicPrefix: TOPIC_PREFIX,
    dbPrefix: DB_PREFIX,
    connectorEnv: (name, topic, databaseUrl, env) =>
      ourEnv({ name, topic, databaseUrl, transport: 'undici', concurrency: OUTAGE_CONCURRENCY, env }),
    nodeFlags: EXTRA_NODE_FLAGS,
    echo: process.env.BENCH_ECHO === '1',
    load,
    log,
  };
  log(
    `outage: ${eventsPerSec} events/s × ${ISOLATION_SUBSCRIBERS} subscribers (half of ${Math.round(max)}/s)`,
  );
  const live = { eventsPerSec, seconds: OUTAGE_SECONDS };
  await scenario('outage: all healthy', () =>
    runOutage(ctx, { name: 'outage.healthy', failure: 'none', ...live }),
  );
  await scenario('outage: one subscriber answers 503, then recovers (drain)', () =>
    runOutage(ctx, { name: 'outage.503', failure: '503', drain: true, ...live }),
  );
  await scenario('outage: one subscriber hangs', () =>
    runOutage(ctx, { name: 'outage.hung', failure: 'hang', ...live }),
  );
  const slow = { eventsPerSec, seconds: SLOW_SECONDS };
  await scenario('outage: one subscriber answers in 200 ms (concurrent)', () =>
    runOutage(ctx, { name: 'outage.slow.concurrent', failure: 'slow', ordering: 'concurrent', ...slow }),
  );
  await scenario('outage: one subscriber answers in 200 ms (ordered)', () =>
    runOutage(ctx, { name: 'outage.slow.ordered', failure: 'slow', ordering: 'ordered', ...slow }),
  );
}

// --------------------------------------------------------------------------------------------- report

interface Comparison {
  readonly name: string;
  readonly value: number | null;
  readonly detail: string;
}

function comparisons(): {
  ratios: Comparison[];
  targets: (TargetCheck & { target: string; detail: string })[];
} {
  const rate = (n: string): number | null => find(n)?.rate ?? null;
  const cpu = (n: string): number | null => find(n)?.cpuMicrosPerDelivery ?? null;
  const consume = rate('ceiling.consume');
  const httpU = rate('ceiling.http.undici');
  const httpG = rate('ceiling.http.got');
  const ceil = (http: number | null, fanOut: number): number | null =>
    consume !== null && http !== null ? ceilingFor(consume, http, fanOut) : null;
  const bound = serialBound([consume, rate('ceiling.work'), httpU]);
  const ratios: Comparison[] = [
    {
      name: 'one-thread bound, fan-out 1: 1 / (1/consume + 1/work + 1/http undici), deliveries/s',
      value: bound,
      detail: '',
    },
    {
      name: 'fan-out 1, undici ÷ the one-thread bound',
      value: ratio(rate('throughput.fo1.undici'), bound),
      detail: '',
    },
    {
      name: 'fan-out 1, undici ÷ min(consume, http undici)',
      value: ratio(rate('throughput.fo1.undici'), ceil(httpU, 1)),
      detail: '',
    },
    {
      name: 'fan-out 3, undici ÷ min(3 × consume, http undici)',
      value: ratio(rate('throughput.fo3.undici'), ceil(httpU, 3)),
      detail: '',
    },
    {
      name: 'fan-out 1, got ÷ min(consume, http got)',
      value: ratio(rate('throughput.fo1.got'), ceil(httpG, 1)),
      detail: '',
    },
    {
      name: 'fan-out 3, got ÷ min(3 × consume, http got)',
      value: ratio(rate('throughput.fo3.got'), ceil(httpG, 3)),
      detail: '',
    },
    { name: 'http ceiling undici ÷ got', value: ratio(httpU, httpG), detail: '' },
    {
      name: 'ours ÷ naive (fan-out 1)',
      value: ratio(rate('throughput.fo1.undici'), rate('naive')),
      detail: '',
    },
    {
      name: '100,000 ÷ 10 subscriptions (throughput)',
      value: ratio(rate('join.100k'), rate('throughput.fo1.undici')),
      detail: '',
    },
    {
      name: 'isolation, ours (hung ÷ healthy)',
      value: ratio(rate('isolation.ours.hung'), rate('isolation.ours.healthy')),
      detail: '',
    },
    {
      name: 'isolation, peer (hung ÷ healthy)',
      value: ratio(rate('isolation.peer.hung'), rate('isolation.peer.healthy')),
      detail: '',
    },
    { name: 'ours ÷ peer at concurrency 10', value: ratio(rate('ours.c10'), rate('peer.c10')), detail: '' },
    {
      name: `heap growth ${HEAP_GROWTH} % ÷ V8 default: peak RSS, 100,000 subscriptions`,
      value: ratio(find('join.100k')?.peakRssMb, find('join.100k.heap0')?.peakRssMb),
      detail: '',
    },
    {
      name: `heap growth ${HEAP_GROWTH} % ÷ V8 default: CPU µs/delivery, 100,000 subscriptions`,
      value: ratio(cpu('join.100k'), cpu('join.100k.heap0')),
      detail: '',
    },
    {
      name: `heap growth ${HEAP_GROWTH} % ÷ V8 default: CPU µs/delivery, fan-out 1`,
      value: ratio(cpu('throughput.fo1.undici'), cpu('throughput.fo1.heap0')),
      detail: '',
    },
    // CPU cost, less sensitive to the machine's load than rates: the client's own µs per request over ours per delivery.
    {
      name: 'CPU cost: http undici µs/request ÷ ours µs/delivery (fan-out 1)',
      value: ratio(cpu('ceiling.http.undici'), cpu('throughput.fo1.undici')),
      detail: '',
    },
    {
      name: 'CPU cost: http got µs/request ÷ ours µs/delivery (fan-out 1, got)',
      value: ratio(cpu('ceiling.http.got'), cpu('throughput.fo1.got')),
      detail: '',
    },
    {
      name: 'CPU cost: peer ÷ ours µs/delivery (concurrency 10)',
      value: ratio(cpu('peer.c10'), cpu('ours.c10')),
      detail: '',
    },
  ];
  const r = (n: string): number | null => ratios.find((x) => x.name.startsWith(n))?.value ?? null;
  const lat = find('latency.half')?.latency;
  const join = find('join.100k');
  const isoOurs = r('isolation, ours');
  const isoPeer = r('isolation, peer');
  const targets = [
    {
      target: 'throughput ≥ 0.8 × min(ceilings), fan-out 1 (undici)',
      ...atLeast(r('fan-out 1, undici ÷ min('), 0.8),
      detail: 'ratio',
    },
    {
      target: 'isolation ≥ 0.9',
      ...atLeast(isoOurs, 0.9),
      detail: '(healthy subscribers: hung run ÷ all-healthy run)',
    },
    { target: 'p99 ≤ 100 ms at half the maximum rate', ...atMost(lat?.p99 ?? null, 100), detail: 'ms' },
    { target: '≥ 5 × the naive baseline', ...atLeast(r('ours ÷ naive'), 5), detail: '×' },
    {
      target: 'ahead of the peer in throughput (concurrency 10)',
      ...atLeast(r('ours ÷ peer'), 1.000001),
      detail: 'ours ÷ peer',
    },
    {
      target: 'ahead of the peer in isolation',
      met: isoOurs === null || isoPeer === null ? null : isoOurs > isoPeer,
      value: isoOurs === null || isoPeer === null ? null : isoOurs - isoPeer,
      detail: `(ours − peer; ours ${isoOurs?.toFixed(2) ?? '?'}, peer ${isoPeer?.toFixed(2) ?? '?'})`,
    },
    {
      target: 'peak RSS ≤ 300 MB with 100,000 subscriptions',
      ...atMost(join?.peakRssMb ?? null, 300),
      detail: 'MB',
    },
    {
      target: 'start-up with 100,000 subscriptions ≤ 3 s (app.start() → ready)',
      ...atMost(join?.startup?.startToReadyMs != null ? join.startup.startToReadyMs / 1000 : null, 3),
      detail: 's',
    },
  ];
  const outage = outageComparisons(find);
  const dlog = logComparisons(find, LOG_ROUNDS);
  return {
    ratios: [...ratios, ...dlog.ratios, ...outage.ratios],
    targets: [...targets, ...dlog.targets, ...outage.targets],
  };
}

const fmt = (v: number | null | undefined, digits = 0): string =>
  v === null || v === undefined || !Number.isFinite(v)
    ? '—'
    : v.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function markdownTables(extra: {
  profile: { top: SelfTime[]; totalMs: number; areas: Record<string, number> } | null;
}): string {
  const lines: string[] = [];
  lines.push(
    '| run | system | transport | fan-out | conc. | delivered | rate /s | CPU % | CPU µs/delivery | peak RSS MB | event-loop delay p99 / max ms | receiver CPU % | machine CPU % of 200 | load 1m (before→after) |',
  );
  lines.push('| --- | --- | --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --- |');
  for (const r of results) {
    lines.push(
      `| ${r.name} | ${r.system} | ${r.transport ?? ''} | ${r.fanOut ?? ''} | ${r.concurrency ?? ''} | ${fmt(r.delivered)}/${fmt(r.expected)}${r.complete ? '' : ' (capped)'} | ${fmt(r.rate)} | ${fmt(r.cpuPercent)} | ${fmt(r.cpuMicrosPerDelivery)} | ${fmt(r.peakRssMb)} | ${r.eventLoopDelayMs ? `${fmt(r.eventLoopDelayMs.p99)} / ${fmt(r.eventLoopDelayMs.max)}` : ''} | ${fmt(r.receiverCpuPercent)} | ${fmt(r.machineCpuPercent)} | ${r.loadBefore.one.toFixed(2)}→${r.loadAfter.one.toFixed(2)} |`,
    );
  }
  const { ratios, targets } = comparisons();
  lines.push('', '| comparison | value |', '| --- | --: |');
  // The outage ratios are printed with their targets in the outage section.
  for (const c of ratios.filter((x) => !x.name.startsWith('outage'))) {
    lines.push(`| ${c.name} | ${fmt(c.value, 2)} |`);
  }
  for (const [name, label] of [
    ['latency.half', 'half'],
    ['latency.quarter', 'a quarter of'],
  ] as const) {
    const lat = find(name)?.latency;
    if (!lat) continue;
    lines.push(
      '',
      `Latency at ${fmt(lat.ratePerSec)} events/s (${label} the fan-out-1 maximum), after a warm-up of ${fmt(lat.warmupEvents)} pre-loaded events (drained in ${fmt(lat.warmupSeconds, 1)} s): p50 ${fmt(lat.p50)} ms, p95 ${fmt(lat.p95)} ms, p99 ${fmt(lat.p99)} ms, max ${fmt(lat.max)} ms (${fmt(lat.arrived)} of ${fmt(lat.produced)} live events arrived; producer fell behind its schedule by at most ${fmt(lat.producerMaxLagMs)} ms).`,
    );
  }
  lines.push(...outageMarkdown(find));
  const base = find('throughput.fo1.undici')?.startup;
  const join = find('join.100k')?.startup;
  if (base && join) {
    lines.push('', '| start-up | 10 subscriptions | 100,000 subscriptions |', '| --- | --: | --: |');
    for (const [k, label] of [
      ['subscriptionsCached', 'subscriptions loaded'],
      ['subscriptionsLoadMs', 'snapshot load (ms)'],
      ['startMs', 'app.start() (ms)'],
      ['startToReadyMs', 'app.start() → ready (ms)'],
      ['processToReadyMs', 'process start → ready (ms)'],
      ['rssMb', 'RSS when ready (MB)'],
      ['heapUsedMb', 'heap used when ready (MB)'],
    ] as const) {
      lines.push(`| ${label} | ${fmt(base[k])} | ${fmt(join[k])} |`);
    }
  }
  lines.push('', '| target | value | met |', '| --- | --: | :-: |');
  for (const t of targets) {
    lines.push(
      `| ${t.target} | ${fmt(t.value, 2)} ${t.detail} | ${t.met === null ? 'not measured' : t.met ? 'yes' : '**no**'} |`,
    );
  }
  if (extra.profile) {
    lines.push(
      '',
      `Top self time under --cpu-prof (throughput fan-out 1, undici; ${fmt(extra.profile.totalMs)} ms of non-idle samples):`,
      '',
      '| self % | self ms | function | where |',
      '| --: | --: | --- | --- |',
    );
    for (const f of extra.profile.top) {
      lines.push(`| ${f.percent.toFixed(1)} | ${fmt(f.selfMs)} | ${f.fn} | ${f.where} |`);
    }
    const areas = Object.entries(extra.profile.areas)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15);
    lines.push('', '| area | self ms |', '| --- | --: |');
    for (const [a, ms] of areas) lines.push(`| ${a} | ${fmt(ms)} |`);
  }
  return lines.join('\n');
}

function gitDescription(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    }).trim();
    return `commit ${head}${dirty === '' ? '' : ` + uncommitted changes in src/ (${dirty.split('\n').length} file(s))`}`;
  } catch {
    return 'not a git checkout';
  }
}

function report(extra: {
  peerInfo: string | null;
  peerError: string | null;
  setupSeconds: number;
  profile: { file: string; totalMs: number; top: SelfTime[]; areas: Record<string, number> } | null;
}): void {
  const totalSeconds = (Date.now() - t0) / 1000;
  const tables = markdownTables(extra);
  const header = [
    `Benchmark ${RUN}, ${new Date().toISOString()}${QUICK ? ' (BENCH_QUICK)' : ''}, host ${hostname()}`,
    `Machine: ${machineDescription()}`,
    `Code: ${gitDescription()}`,
    `Load average at the end: ${loadAverage().one.toFixed(2)} / ${loadAverage().five.toFixed(2)} / ${loadAverage().fifteen.toFixed(2)}`,
    `Data: ${S.events.toLocaleString('en')} events of ~1 KiB, ${PARTITIONS} partitions, 1,000 projects (record key), ${EVENTS_IN_TOPIC} event names; isolation: ${S.isoEvents.toLocaleString('en')} events × ${ISOLATION_SUBSCRIBERS} subscribers, one hanging (timeout ${ISOLATION_TIMEOUT_MS} ms)`,
    `Connector: DELIVERY_CONCURRENCY ${CONCURRENCY}, HTTP_CONNECTIONS_PER_ORIGIN ${CONNECTIONS_PER_ORIGIN}, PARTITION_MAX_IN_FLIGHT ${WINDOW}, HEAP_GROWTH_PERCENT ${HEAP_GROWTH}; ceilings at the same concurrency and connections`,
    ...(wants('outage')
      ? [
          `Outage group: ${OUTAGE_SECONDS} s per failing run, ${SLOW_SECONDS} s per slow run, DELIVERY_CONCURRENCY ${OUTAGE_CONCURRENCY}, ${Object.entries(
            OUTAGE_ENV,
          )
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}`,
        ]
      : []),
    `Peer: ${extra.peerInfo ?? `not run (${extra.peerError ?? 'not selected'})`}`,
    `Setup ${extra.setupSeconds.toFixed(0)} s, total ${totalSeconds.toFixed(0)} s`,
  ];
  const text = `${header.join('\n')}\n\n${tables}\n${errors.length ? `\nErrors:\n${errors.map((e) => `- ${e.split('\n')[0]}`).join('\n')}\n` : ''}`;
  process.stdout.write(`\n${text}\n`);
  const { ratios, targets } = comparisons();
  const json = {
    run: RUN,
    date: new Date().toISOString(),
    code: gitDescription(),
    quick: QUICK,
    host: hostname(),
    machine: machineDescription(),
    loadAtEnd: loadAverage(),
    settings: {
      ...S,
      concurrency: CONCURRENCY,
      connectionsPerOrigin: CONNECTIONS_PER_ORIGIN,
      isolationTimeoutMs: ISOLATION_TIMEOUT_MS,
      partitions: PARTITIONS,
      window: WINDOW,
      heapGrowthPercent: HEAP_GROWTH,
      outageSeconds: OUTAGE_SECONDS,
      outageSlowSeconds: SLOW_SECONDS,
    },
    peer: extra.peerInfo,
    peerError: extra.peerError,
    setupSeconds: extra.setupSeconds,
    totalSeconds,
    results,
    ratios,
    targets,
    profile: extra.profile,
    errors,
    markdown: text,
  };
  const out = join(REPO_ROOT, 'bench/report.json');
  writeFileSync(out, `${JSON.stringify(json, null, 2)}\n`);
  log(`report written to bench/report.json (${totalSeconds.toFixed(0)} s in all)`);
}

main().then(
  () => process.exit(errors.length > 0 ? 1 : 0),
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
