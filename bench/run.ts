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
 * This file holds the settings and `main()`, which runs the scenarios in a fixed order: later ones read
 * earlier results (the latency and outage runs take half the fan-out-1 rate just measured). The runners
 * are in bench/scenarios/, the ratios and targets in bench/lib/comparisons.ts (results found by run id,
 * bench/lib/result.ts), the printed report in bench/lib/report.ts.
 *
 * Processes: this orchestrator (producer, control), the receivers (bench/receiver.ts), and one process
 * per system under test (bench/connector-driver.ts, the ceilings, bench/naive.ts, the peer's wattpm), each
 * measured from /proc. Deliveries are counted at the receiver.
 */
import { buildForBench } from './lib/child.js';
import { comparisons } from './lib/comparisons.js';
import type { BenchContext, Sizes } from './lib/context.js';
import {
  createSubscriptionDb,
  createTopics,
  EVENTS_IN_TOPIC,
  EVENT_NAMES,
  globalSubscriptions,
  PARTITIONS,
  preload,
  projectSubscriptions,
} from './lib/data.js';
import { configSpec } from '../src/config.js';
import { ensurePeer } from './lib/peer.js';
import { loadAverage, MachineMonitor } from './lib/proc.js';
import { Receivers, url } from './lib/receivers.js';
import { writeReport } from './lib/report.js';
import type { RunId, RunResult } from './lib/result.js';
import { cleanup, infraUp, waitTopicsGone } from './lib/setup.js';
import { runNaive, runPeer } from './scenarios/baselines.js';
import { runCeilingConsume, runCeilingHttp, runCeilingWork } from './scenarios/ceilings.js';
import { logRunEnv, logRuns, logStorage, truncateLog } from './scenarios/delivery-log.js';
import { runIsolationOurs, runIsolationPeer } from './scenarios/isolation.js';
import { runLatency } from './scenarios/latency.js';
import { runOurs, type OursRunner } from './scenarios/ours.js';
import { runOutageGroup } from './scenarios/outage.js';
import { runProfile, type ProfileSummary } from './scenarios/profile.js';

// ------------------------------------------------------------------------------------------ settings

const QUICK = process.env.BENCH_QUICK === '1';
const PROFILE = process.env.BENCH_PROFILE === '1';
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',').map((s) => s.trim())) : null;
const wants = (group: string): boolean => (ONLY === null ? group !== 'profile' || PROFILE : ONLY.has(group));

/** Sizes and per-scenario time caps (seconds). */
const S: Sizes = QUICK
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
const PREFIXES = { topicPrefix: TOPIC_PREFIX, groupPrefix: GROUP_PREFIX, dbPrefix: DB_PREFIX };
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

const results: RunResult[] = [];
const errors: string[] = [];
const find = (id: RunId): RunResult | undefined => results.find((r) => r.id === id && r.error === undefined);

/** Runs one scenario: its results are logged and kept, its failure is reported and the run goes on. */
async function scenario(label: string, fn: () => Promise<RunResult | RunResult[] | void>): Promise<void> {
  const began = Date.now();
  log(`${label}: start (load ${loadAverage().one.toFixed(2)})`);
  try {
    const r = await fn();
    for (const x of Array.isArray(r) ? r : r ? [r] : []) {
      results.push(x);
      log(
        `${label}: ${x.id} ${x.rate === null ? 'n/a' : `${x.rate.toFixed(0)}/s`} (${x.delivered}/${x.expected} delivered${x.complete ? '' : ', capped'}) cpu ${x.cpuPercent?.toFixed(0) ?? '?'}% rss ${x.peakRssMb?.toFixed(0) ?? '?'} MB`,
      );
    }
  } catch (err) {
    const message = (err as Error).stack ?? String(err);
    errors.push(`${label}: ${message}`);
    log(`${label}: FAILED ${message.slice(0, 2000)}`);
  }
  log(`${label}: ${((Date.now() - began) / 1000).toFixed(1)} s`);
}

// ---------------------------------------------------------------------------------------------- main

async function main(): Promise<void> {
  process.on('SIGINT', () => process.exit(130));
  log(
    `run ${RUN}${QUICK ? ' (BENCH_QUICK)' : ''}: ${S.events.toLocaleString('en')} events of ~1 KiB over ${PARTITIONS} partitions`,
  );
  const buildStart = Date.now();
  buildForBench();
  log(`compiled src/ and bench/ into bench/.build in ${((Date.now() - buildStart) / 1000).toFixed(1)} s`);
  infraUp(log);
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
  await cleanup(PREFIXES, log);
  await waitTopicsGone(TOPIC_PREFIX);
  const receivers = await Receivers.start(ISOLATION_SUBSCRIBERS, new MachineMonitor());
  const { mainPort, isoPorts } = receivers;
  const ctx: BenchContext = {
    quick: QUICK,
    sizes: S,
    run: RUN,
    ...PREFIXES,
    topics,
    connector: {
      concurrency: CONCURRENCY,
      connectionsPerOrigin: CONNECTIONS_PER_ORIGIN,
      window: WINDOW,
      heapGrowth: HEAP_GROWTH,
      nodeFlags: EXTRA_NODE_FLAGS,
      echo: process.env.BENCH_ECHO === '1',
    },
    isolation: {
      subscribers: ISOLATION_SUBSCRIBERS,
      timeoutMs: ISOLATION_TIMEOUT_MS,
      warmupMs: ISOLATION_WARMUP_MS,
    },
    receivers,
    log,
  };

  const setupBegan = Date.now();
  const isoPeerTopics = Array.from({ length: ISOLATION_SUBSCRIBERS }, (_, k) => topics.isoPeer(k));
  await createTopics([topics.events, topics.iso, topics.latency, topics.latencyQuarter, ...isoPeerTopics]);
  await createTopics([topics.peerDlq], 1);
  await preload([topics.events], RUN, S.events);
  if (wants('isolation')) await preload([topics.iso, ...isoPeerTopics], `${RUN}i`, S.isoEvents);
  const fo3 = wants('throughput') || wants('got');
  const db = {
    fo1: await createSubscriptionDb(
      `${DB_PREFIX}fo1`,
      globalSubscriptions(1, () => url(mainPort)),
    ),
    fo3: fo3
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

  /** Our connector, fan-out 1, undici, on the pre-loaded topic unless `o` says otherwise. */
  const ours: OursRunner = (id, o) =>
    runOurs(ctx, {
      id,
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
  const fanOut3 = {
    databaseUrl: db.fo3,
    subscriptions: 3 * EVENTS_IN_TOPIC,
    fanOut: 3,
    expected: 3 * S.events,
  };
  const join100k = { databaseUrl: db.join, subscriptions: 1_000 * EVENT_NAMES.length, capSeconds: S.capJoin };

  if (wants('ceilings')) {
    await scenario('ceiling a (consume)', () => runCeilingConsume(ctx));
    await scenario('ceiling b (http undici)', () => runCeilingHttp(ctx, 'undici'));
    await scenario('ceiling c (http got)', () => runCeilingHttp(ctx, 'got'));
    await scenario('ceiling d (per-delivery work, no I/O)', () => runCeilingWork(ctx));
  }
  // The outage group runs at half the fan-out-1 maximum: measured here when the group runs without it.
  const needMax = wants('outage') && !wants('throughput') && !process.env.BENCH_LATENCY_RATE;
  if (wants('throughput') || needMax) {
    await scenario('throughput fan-out 1 (undici)', () => ours('throughput.fo1.undici', {}));
  }
  // Right after the maximum it is half of, so the machine's load has had the least time to change.
  if (wants('latency')) {
    const max = find('throughput.fo1.undici')?.rate;
    await scenario('latency at half the maximum', () =>
      runLatency(ctx, ours, 'latency.half', topics.latency, 0.5, max),
    );
    await scenario('latency at a quarter of the maximum', () =>
      runLatency(ctx, ours, 'latency.quarter', topics.latencyQuarter, 0.25, max),
    );
  }
  // The delivery log's cost (bench/scenarios/delivery-log.ts): fan-out 1 with the log off and on, interleaved.
  if (wants('log')) {
    for (const id of logRuns(LOG_ROUNDS)) {
      await scenario(`delivery log: fan-out 1 (undici), ${id}`, async () => {
        await truncateLog(db.fo1);
        const run = await ours(id, { env: logRunEnv(id), postgres: true });
        const r = id.startsWith('log.all') ? { ...run, logStorage: await logStorage(db.fo1) } : run;
        const p = r.postgresCpuMicrosPerDelivery;
        log(
          `${id}: CPU µs/delivery connector ${r.cpuMicrosPerDelivery?.toFixed(1) ?? '?'} (main thread ${r.mainThread?.cpuMicrosPerDelivery?.toFixed(1) ?? '?'}, busy ${r.mainThread?.busyPercent?.toFixed(0) ?? '?'} %), Postgres log ${p?.log?.toFixed(1) ?? '?'} other ${p?.other?.toFixed(1) ?? '?'} background ${p?.background?.toFixed(1) ?? '?'}; machine ${r.machineCpuPercent?.toFixed(0) ?? '?'} %, load ${r.loadBefore.one.toFixed(2)} → ${r.loadAfter.one.toFixed(2)}`,
        );
        return r;
      });
    }
  }
  if (wants('throughput')) {
    await scenario('throughput fan-out 3 (undici)', () =>
      ours('throughput.fo3.undici', { ...fanOut3, capSeconds: S.capFo3 }),
    );
  }
  if (wants('got')) {
    await scenario('throughput fan-out 1 (got)', () =>
      ours('throughput.fo1.got', { transport: 'got', capSeconds: S.capGot }),
    );
    await scenario('throughput fan-out 3 (got)', () =>
      ours('throughput.fo3.got', { transport: 'got', ...fanOut3, capSeconds: S.capGot }),
    );
  }
  if (wants('join')) {
    await scenario('join at scale (100,000 subscriptions)', () => ours('join.100k', join100k));
  }
  // The memory/CPU trade of HEAP_GROWTH_PERCENT, in the same run: V8's own policy (0) on the same two runs.
  if (wants('heap') && HEAP_GROWTH !== 0) {
    const v8Policy = { env: { HEAP_GROWTH_PERCENT: '0' } };
    await scenario('heap: fan-out 1 with HEAP_GROWTH_PERCENT=0', () =>
      ours('throughput.fo1.heap0', v8Policy),
    );
    await scenario('heap: 100,000 subscriptions with HEAP_GROWTH_PERCENT=0', () =>
      ours('join.100k.heap0', { ...join100k, ...v8Policy }),
    );
  }
  if (wants('naive')) await scenario('naive baseline', () => runNaive(ctx, db.fo1));
  if (wants('isolation')) {
    await scenario('isolation: ours, all healthy', () => runIsolationOurs(ctx, ours, db.iso, false));
    await scenario('isolation: ours, one subscriber hangs', () => runIsolationOurs(ctx, ours, db.iso, true));
  }
  if (wants('peer')) {
    if (peerError !== null) {
      errors.push(`peer: not run: ${peerError}`);
    } else {
      const route = { topic: topics.events, url: url(mainPort, '/peer') };
      await scenario('peer: throughput at concurrency 10', () =>
        runPeer(ctx, 'peer.c10', [route], [mainPort], S.events, S.capC10),
      );
      await scenario('ours: throughput at concurrency 10', () =>
        ours('ours.c10', { concurrency: 10, capSeconds: S.capC10 }),
      );
    }
  }
  if (wants('isolation') && peerError === null) {
    await scenario('isolation: peer, all healthy', () => runIsolationPeer(ctx, false));
    await scenario('isolation: peer, one subscriber hangs', () => runIsolationPeer(ctx, true));
  }
  if (wants('outage')) {
    const max = Number(process.env.BENCH_LATENCY_RATE ?? 0) || find('throughput.fo1.undici')?.rate;
    if (!max) errors.push('outage: not run: needs throughput.fo1.undici (the maximum) or BENCH_LATENCY_RATE');
    else await runOutageGroup(ctx, scenario, max);
  }
  let profile: ProfileSummary | null = null;
  if (wants('profile')) {
    await scenario('profile (--cpu-prof, throughput fan-out 1)', async () => {
      const p = await runProfile(ours, S.capProfile);
      profile = p.profile;
      return p.result;
    });
  }

  await receivers.exit();
  await cleanup(PREFIXES, log);
  writeReport(ctx, {
    results,
    find,
    comparisons: comparisons(find, { heapGrowth: HEAP_GROWTH, logRounds: LOG_ROUNDS }),
    errors,
    peerInfo,
    peerError,
    setupSeconds,
    totalSeconds: (Date.now() - t0) / 1000,
    outage: wants('outage'),
    profile,
  });
}

main().then(
  () => process.exit(errors.length > 0 ? 1 : 0),
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
