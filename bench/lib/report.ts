/**
 * What `npm run bench` prints at the end and writes to bench/report.json: the run's header (machine, code,
 * data, settings), the results table with a row per run id, the comparisons, latency, the outage group,
 * start-up, the targets and the profile. Users and bench/README.md quote this text: change it on purpose.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './child.js';
import type { Comparisons } from './comparisons.js';
import { OUTAGE_RUNS } from './comparisons.js';
import type { BenchContext } from './context.js';
import { EVENTS_IN_TOPIC, PARTITIONS } from './data.js';
import { loadAverage, machineDescription } from './proc.js';
import type { Comparison, FindRun, RunResult } from './result.js';
import type { ProfileSummary } from '../scenarios/profile.js';
import { OUTAGE_CONCURRENCY, OUTAGE_ENV, OUTAGE_SECONDS, SLOW_SECONDS } from '../scenarios/outage.js';

export interface ReportInput {
  readonly results: readonly RunResult[];
  readonly find: FindRun;
  readonly comparisons: Comparisons;
  readonly errors: readonly string[];
  readonly peerInfo: string | null;
  readonly peerError: string | null;
  readonly setupSeconds: number;
  readonly totalSeconds: number;
  /** The outage group ran: the header says its settings. */
  readonly outage: boolean;
  readonly profile: ProfileSummary | null;
}

type ReportContext = Pick<BenchContext, 'run' | 'quick' | 'sizes' | 'connector' | 'isolation' | 'log'>;

const fmt = (v: number | null | undefined, digits = 0): string =>
  v === null || v === undefined || !Number.isFinite(v)
    ? '—'
    : v.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** Prints the report on stdout and writes bench/report.json. */
export function writeReport(ctx: ReportContext, x: ReportInput): void {
  const { connector: c, sizes: S, isolation: iso } = ctx;
  const tables = markdownTables(x);
  const header = [
    `Benchmark ${ctx.run}, ${new Date().toISOString()}${ctx.quick ? ' (BENCH_QUICK)' : ''}, host ${hostname()}`,
    `Machine: ${machineDescription()}`,
    `Code: ${gitDescription()}`,
    `Load average at the end: ${loadAverage().one.toFixed(2)} / ${loadAverage().five.toFixed(2)} / ${loadAverage().fifteen.toFixed(2)}`,
    `Data: ${S.events.toLocaleString('en')} events of ~1 KiB, ${PARTITIONS} partitions, 1,000 projects (record key), ${EVENTS_IN_TOPIC} event names; isolation: ${S.isoEvents.toLocaleString('en')} events × ${iso.subscribers} subscribers, one hanging (timeout ${iso.timeoutMs} ms)`,
    `Connector: DELIVERY_CONCURRENCY ${c.concurrency}, HTTP_CONNECTIONS_PER_ORIGIN ${c.connectionsPerOrigin}, PARTITION_MAX_IN_FLIGHT ${c.window}, HEAP_GROWTH_PERCENT ${c.heapGrowth}; ceilings at the same concurrency and connections`,
    ...(x.outage
      ? [
          `Outage group: ${OUTAGE_SECONDS} s per failing run, ${SLOW_SECONDS} s per slow run, DELIVERY_CONCURRENCY ${OUTAGE_CONCURRENCY}, ${Object.entries(
            OUTAGE_ENV,
          )
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}`,
        ]
      : []),
    `Peer: ${x.peerInfo ?? `not run (${x.peerError ?? 'not selected'})`}`,
    `Setup ${x.setupSeconds.toFixed(0)} s, total ${x.totalSeconds.toFixed(0)} s`,
  ];
  const errors = x.errors.length
    ? `\nErrors:\n${x.errors.map((e) => `- ${e.split('\n')[0]}`).join('\n')}\n`
    : '';
  const text = `${header.join('\n')}\n\n${tables}\n${errors}`;
  process.stdout.write(`\n${text}\n`);
  const json = {
    run: ctx.run,
    date: new Date().toISOString(),
    code: gitDescription(),
    quick: ctx.quick,
    host: hostname(),
    machine: machineDescription(),
    loadAtEnd: loadAverage(),
    settings: {
      ...S,
      concurrency: c.concurrency,
      connectionsPerOrigin: c.connectionsPerOrigin,
      isolationTimeoutMs: iso.timeoutMs,
      partitions: PARTITIONS,
      window: c.window,
      heapGrowthPercent: c.heapGrowth,
      outageSeconds: OUTAGE_SECONDS,
      outageSlowSeconds: SLOW_SECONDS,
    },
    peer: x.peerInfo,
    peerError: x.peerError,
    setupSeconds: x.setupSeconds,
    totalSeconds: x.totalSeconds,
    results: x.results,
    ratios: [...x.comparisons.ratios, ...x.comparisons.outageRatios],
    targets: x.comparisons.targets,
    profile: x.profile,
    errors: x.errors,
    markdown: text,
  };
  writeFileSync(join(REPO_ROOT, 'bench/report.json'), `${JSON.stringify(json, null, 2)}\n`);
  ctx.log(`report written to bench/report.json (${x.totalSeconds.toFixed(0)} s in all)`);
}

function markdownTables(x: ReportInput): string {
  const { find } = x;
  const lines: string[] = [];
  lines.push(
    '| run | system | transport | fan-out | conc. | delivered | rate /s | CPU % | CPU µs/delivery | peak RSS MB | event-loop delay p99 / max ms | receiver CPU % | machine CPU % of 200 | load 1m (before→after) |',
  );
  lines.push('| --- | --- | --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --- |');
  for (const r of x.results) {
    lines.push(
      `| ${r.id} | ${r.system} | ${r.transport ?? ''} | ${r.fanOut ?? ''} | ${r.concurrency ?? ''} | ${fmt(r.delivered)}/${fmt(r.expected)}${r.complete ? '' : ' (capped)'} | ${fmt(r.rate)} | ${fmt(r.cpuPercent)} | ${fmt(r.cpuMicrosPerDelivery)} | ${fmt(r.peakRssMb)} | ${r.eventLoopDelayMs ? `${fmt(r.eventLoopDelayMs.p99)} / ${fmt(r.eventLoopDelayMs.max)}` : ''} | ${fmt(r.receiverCpuPercent)} | ${fmt(r.machineCpuPercent)} | ${r.loadBefore.one.toFixed(2)}→${r.loadAfter.one.toFixed(2)} |`,
    );
  }
  const { ratios, outageRatios, targets } = x.comparisons;
  lines.push('', '| comparison | value |', '| --- | --: |');
  for (const c of ratios) lines.push(`| ${c.name} | ${fmt(c.value, 2)} |`);
  for (const [id, label] of [
    ['latency.half', 'half'],
    ['latency.quarter', 'a quarter of'],
  ] as const) {
    const lat = find(id)?.latency;
    if (!lat) continue;
    lines.push(
      '',
      `Latency at ${fmt(lat.ratePerSec)} events/s (${label} the fan-out-1 maximum), after a warm-up of ${fmt(lat.warmupEvents)} pre-loaded events (drained in ${fmt(lat.warmupSeconds, 1)} s): p50 ${fmt(lat.p50)} ms, p95 ${fmt(lat.p95)} ms, p99 ${fmt(lat.p99)} ms, max ${fmt(lat.max)} ms (${fmt(lat.arrived)} of ${fmt(lat.produced)} live events arrived; producer fell behind its schedule by at most ${fmt(lat.producerMaxLagMs)} ms).`,
    );
  }
  lines.push(...outageMarkdown(find, outageRatios));
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
  if (x.profile) {
    lines.push(
      '',
      `Top self time under --cpu-prof (throughput fan-out 1, undici; ${fmt(x.profile.totalMs)} ms of non-idle samples):`,
      '',
      '| self % | self ms | function | where |',
      '| --: | --: | --- | --- |',
    );
    for (const f of x.profile.top) {
      lines.push(`| ${f.percent.toFixed(1)} | ${fmt(f.selfMs)} | ${f.fn} | ${f.where} |`);
    }
    const areas = Object.entries(x.profile.areas)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15);
    lines.push('', '| area | self ms |', '| --- | --: |');
    for (const [a, ms] of areas) lines.push(`| ${a} | ${fmt(ms)} |`);
  }
  return lines.join('\n');
}

/** The outage group: healthy subscribers' latency side by side, parks, its ratios, the drain. */
function outageMarkdown(find: FindRun, ratios: readonly Comparison[]): string[] {
  const runs = OUTAGE_RUNS.map((id) => [id, find(id)?.outage] as const).filter(
    (r): r is readonly [(typeof OUTAGE_RUNS)[number], NonNullable<RunResult['outage']>] => r[1] !== undefined,
  );
  if (runs.length === 0) return [];
  const first = runs[0]![1];
  const lines = [
    '',
    `Outage group: ${fmt(first.eventsPerSec)} events/s × 10 subscribers = ${fmt(first.deliveriesPerSec)} deliveries/s (half the fan-out-1 maximum), subscriber 0 failing as named; healthy = the other nine, end-to-end = receiver clock − event timestamp, live events only.`,
    '',
    '| run | live s | healthy arrived | healthy p50 ms | p95 ms | p99 ms | max ms | parks/s (by reason) | paused partitions max | parked at end | circuit transitions | slow origin /s |',
    '| --- | --: | --: | --: | --: | --: | --: | --- | --: | --: | --- | --: |',
  ];
  const nonZero = (counts: Record<string, number>): string =>
    Object.entries(counts)
      .filter(([, v]) => v > 0)
      .map(([k, v]) => `${k} ${fmt(v)}`)
      .join(', ');
  for (const [id, o] of runs) {
    const reasons = nonZero(o.parks);
    lines.push(
      `| ${id} | ${fmt(o.liveSeconds)} | ${fmt(o.healthyArrived)}/${fmt(o.healthyExpected)} | ${fmt(o.healthyLatency?.p50)} | ${fmt(o.healthyLatency?.p95)} | ${fmt(o.healthyLatency?.p99)} | ${fmt(o.healthyLatency?.max)} | ${fmt(o.parksPerSec, 1)}${reasons ? ` (${reasons})` : ''} | ${fmt(o.pausedPartitionsMax)} | ${fmt(o.parkedAtEnd)} | ${nonZero(o.circuitTransitions)} | ${o.slowOriginRate !== undefined ? fmt(o.slowOriginRate) : ''} |`,
    );
  }
  lines.push('', '| outage ratio | value | target |', '| --- | --: | --- |');
  for (const c of ratios) lines.push(`| ${c.name} | ${fmt(c.value, 2)} | ${c.detail} |`);
  const d = find('outage.drain')?.outage?.drain;
  if (d) {
    lines.push(
      '',
      `Drain after the 503 run: ${fmt(d.parkedAtRecovery)} parked rows, ${fmt(d.delivered)} delivered in ${fmt(d.seconds, 1)} s (first ${fmt(d.firstDeliveryAfterMs)} ms after the recovery), **${fmt(d.ratePerSec)} deliveries/s** (10–90 %; target ≥ 1,000), ${fmt(d.claims)} claims, ${fmt(d.leftParked)} left parked, connector CPU ${fmt(d.cpuPercent)} % (${fmt(d.cpuMicrosPerDelivery)} µs/delivery).`,
    );
  }
  return lines;
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
