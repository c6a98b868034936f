/**
 * The ratios and targets of a run, from its results found by id (bench/lib/result.ts). Each comparison
 * and target has a stable id, which code uses (a target reads its ratio by id); `name` / `target` are
 * the labels printed. A missing run gives null ("—" / "not measured"), never a failure: a partial run
 * (BENCH_ONLY) compares what it measured.
 */
import type { Comparison, FindRun, OutageDetail, OutageRunId, TargetRow } from './result.js';
import { atLeast, atMost, ceilingFor, ratio, serialBound } from './stats.js';
import { logComparisons } from '../scenarios/delivery-log.js';

export interface Comparisons {
  /** Printed in the comparisons table. */
  readonly ratios: Comparison[];
  /** Printed with their targets in the outage section. */
  readonly outageRatios: Comparison[];
  readonly targets: TargetRow[];
}

/** Deliveries/s the slow origin must sustain in 'concurrent' mode (issue #15). */
const SLOW_TARGET_PER_SEC = 300;

/** The outage group's live runs, in the order they run and are printed. */
export const OUTAGE_RUNS: readonly OutageRunId[] = [
  'outage.healthy',
  'outage.503',
  'outage.hung',
  'outage.slow.concurrent',
  'outage.slow.ordered',
];

/** Looks a comparison up by id; an unknown id is a bug in this file, not a missing run. */
function valueOf(list: readonly Comparison[], id: string): number | null {
  const c = list.find((x) => x.id === id);
  if (c === undefined) throw new Error(`no comparison with id ${id}`);
  return c.value;
}

export function comparisons(
  find: FindRun,
  settings: { readonly heapGrowth: number; readonly logRounds: number },
): Comparisons {
  const rate = (id: Parameters<FindRun>[0]): number | null => find(id)?.rate ?? null;
  const cpu = (id: Parameters<FindRun>[0]): number | null => find(id)?.cpuMicrosPerDelivery ?? null;
  const consume = rate('ceiling.consume');
  const httpU = rate('ceiling.http.undici');
  const httpG = rate('ceiling.http.got');
  const ceil = (http: number | null, fanOut: number): number | null =>
    consume !== null && http !== null ? ceilingFor(consume, http, fanOut) : null;
  const bound = serialBound([consume, rate('ceiling.work'), httpU]);
  const fo1 = rate('throughput.fo1.undici');
  const heap = settings.heapGrowth;
  const c = (id: string, name: string, value: number | null): Comparison => ({ id, name, value, detail: '' });
  const ratios: Comparison[] = [
    c(
      'bound.fo1',
      'one-thread bound, fan-out 1: 1 / (1/consume + 1/work + 1/http undici), deliveries/s',
      bound,
    ),
    c('fo1.undici.vs.bound', 'fan-out 1, undici ÷ the one-thread bound', ratio(fo1, bound)),
    c('fo1.undici.vs.ceilings', 'fan-out 1, undici ÷ min(consume, http undici)', ratio(fo1, ceil(httpU, 1))),
    c(
      'fo3.undici.vs.ceilings',
      'fan-out 3, undici ÷ min(3 × consume, http undici)',
      ratio(rate('throughput.fo3.undici'), ceil(httpU, 3)),
    ),
    c(
      'fo1.got.vs.ceilings',
      'fan-out 1, got ÷ min(consume, http got)',
      ratio(rate('throughput.fo1.got'), ceil(httpG, 1)),
    ),
    c(
      'fo3.got.vs.ceilings',
      'fan-out 3, got ÷ min(3 × consume, http got)',
      ratio(rate('throughput.fo3.got'), ceil(httpG, 3)),
    ),
    c('http.undici.vs.got', 'http ceiling undici ÷ got', ratio(httpU, httpG)),
    c('ours.vs.naive', 'ours ÷ naive (fan-out 1)', ratio(fo1, rate('naive'))),
    c('join.100k.vs.fo1', '100,000 ÷ 10 subscriptions (throughput)', ratio(rate('join.100k'), fo1)),
    c(
      'isolation.ours',
      'isolation, ours (hung ÷ healthy)',
      ratio(rate('isolation.ours.hung'), rate('isolation.ours.healthy')),
    ),
    c(
      'isolation.peer',
      'isolation, peer (hung ÷ healthy)',
      ratio(rate('isolation.peer.hung'), rate('isolation.peer.healthy')),
    ),
    c('ours.vs.peer.c10', 'ours ÷ peer at concurrency 10', ratio(rate('ours.c10'), rate('peer.c10'))),
    c(
      'heap.join.rss',
      `heap growth ${heap} % ÷ V8 default: peak RSS, 100,000 subscriptions`,
      ratio(find('join.100k')?.peakRssMb, find('join.100k.heap0')?.peakRssMb),
    ),
    c(
      'heap.join.cpu',
      `heap growth ${heap} % ÷ V8 default: CPU µs/delivery, 100,000 subscriptions`,
      ratio(cpu('join.100k'), cpu('join.100k.heap0')),
    ),
    c(
      'heap.fo1.cpu',
      `heap growth ${heap} % ÷ V8 default: CPU µs/delivery, fan-out 1`,
      ratio(cpu('throughput.fo1.undici'), cpu('throughput.fo1.heap0')),
    ),
    // CPU cost, less sensitive to the machine's load than rates: the client's own µs per request over ours per delivery.
    c(
      'cpu.http.undici.vs.ours',
      'CPU cost: http undici µs/request ÷ ours µs/delivery (fan-out 1)',
      ratio(cpu('ceiling.http.undici'), cpu('throughput.fo1.undici')),
    ),
    c(
      'cpu.http.got.vs.ours',
      'CPU cost: http got µs/request ÷ ours µs/delivery (fan-out 1, got)',
      ratio(cpu('ceiling.http.got'), cpu('throughput.fo1.got')),
    ),
    c(
      'cpu.peer.vs.ours',
      'CPU cost: peer ÷ ours µs/delivery (concurrency 10)',
      ratio(cpu('peer.c10'), cpu('ours.c10')),
    ),
  ];
  const r = (id: string): number | null => valueOf(ratios, id);
  const lat = find('latency.half')?.latency;
  const join = find('join.100k');
  const isoOurs = r('isolation.ours');
  const isoPeer = r('isolation.peer');
  const targets: TargetRow[] = [
    {
      id: 'fo1.undici.vs.ceilings',
      target: 'throughput ≥ 0.8 × min(ceilings), fan-out 1 (undici)',
      ...atLeast(r('fo1.undici.vs.ceilings'), 0.8),
      detail: 'ratio',
    },
    {
      id: 'isolation.ours',
      target: 'isolation ≥ 0.9',
      ...atLeast(isoOurs, 0.9),
      detail: '(healthy subscribers: hung run ÷ all-healthy run)',
    },
    {
      id: 'latency.half.p99',
      target: 'p99 ≤ 100 ms at half the maximum rate',
      ...atMost(lat?.p99 ?? null, 100),
      detail: 'ms',
    },
    {
      id: 'ours.vs.naive',
      target: '≥ 5 × the naive baseline',
      ...atLeast(r('ours.vs.naive'), 5),
      detail: '×',
    },
    {
      id: 'ours.vs.peer.c10',
      target: 'ahead of the peer in throughput (concurrency 10)',
      ...atLeast(r('ours.vs.peer.c10'), 1.000001),
      detail: 'ours ÷ peer',
    },
    {
      id: 'isolation.ours.vs.peer',
      target: 'ahead of the peer in isolation',
      met: isoOurs === null || isoPeer === null ? null : isoOurs > isoPeer,
      value: isoOurs === null || isoPeer === null ? null : isoOurs - isoPeer,
      detail: `(ours − peer; ours ${isoOurs?.toFixed(2) ?? '?'}, peer ${isoPeer?.toFixed(2) ?? '?'})`,
    },
    {
      id: 'join.100k.rss',
      target: 'peak RSS ≤ 300 MB with 100,000 subscriptions',
      ...atMost(join?.peakRssMb ?? null, 300),
      detail: 'MB',
    },
    {
      id: 'join.100k.startup',
      target: 'start-up with 100,000 subscriptions ≤ 3 s (app.start() → ready)',
      ...atMost(join?.startup?.startToReadyMs != null ? join.startup.startToReadyMs / 1000 : null, 3),
      detail: 's',
    },
  ];
  const outage = outageComparisons(find);
  const dlog = logComparisons(find, settings.logRounds);
  return {
    ratios: [...ratios, ...dlog.ratios],
    outageRatios: outage.ratios,
    targets: [...targets, ...dlog.targets, ...outage.targets],
  };
}

/** Group `outage`: the healthy nine's p99 against the all-healthy run's (names fixed by issue #15), and targets. */
function outageComparisons(find: FindRun): { ratios: Comparison[]; targets: TargetRow[] } {
  const p99 = (id: OutageRunId): number | null => find(id)?.outage?.healthyLatency?.p99 ?? null;
  const ratios: Comparison[] = [
    {
      id: 'outage.503.p99',
      name: 'outage: healthy p99 ÷ all-healthy p99',
      value: ratio(p99('outage.503'), p99('outage.healthy')),
      detail: 'target ≤ 1.5 (one subscriber answering 503)',
    },
    {
      id: 'outage.hung.p99',
      name: 'outage (hung): healthy p99 ÷ all-healthy p99',
      value: ratio(p99('outage.hung'), p99('outage.healthy')),
      detail: 'target ≤ 1.5 (one subscriber hung)',
    },
  ];
  const pausedMax = OUTAGE_RUNS.map((id) => find(id)?.outage?.pausedPartitionsMax).filter(
    (v): v is number => v !== undefined,
  );
  const p99Target = (id: string): TargetRow => {
    const c = ratios.find((x) => x.id === id)!;
    return { id, target: `${c.name} ≤ 1.5`, ...atMost(c.value, 1.5), detail: '' };
  };
  const targets: TargetRow[] = [
    p99Target('outage.503.p99'),
    p99Target('outage.hung.p99'),
    {
      id: 'outage.drain',
      target: 'outage: drain of parked deliveries ≥ 1,000/s per instance',
      ...atLeast(find('outage.drain')?.rate, 1_000),
      detail: 'deliveries/s',
    },
    slowTarget(find('outage.slow.concurrent')?.outage),
    {
      id: 'outage.paused',
      target: 'outage: paused partitions stay 0 (max over the group)',
      ...(pausedMax.length === 0 ? { met: null, value: null } : atMost(Math.max(...pausedMax), 0)),
      detail: '',
    },
  ];
  return { ratios, targets };
}

/**
 * ≥ 300 deliveries/s to the slow origin in 'concurrent' mode; not measured when the load offered it less
 * (the same load as the other runs: half the maximum over 10 subscribers, on a slow or busy machine).
 */
function slowTarget(o: OutageDetail | undefined): TargetRow {
  const id = 'outage.slow.concurrent';
  const target = `outage: slow receiver (200 ms), concurrent, ≥ ${SLOW_TARGET_PER_SEC} deliveries/s to its origin`;
  if (o === undefined) return { id, target, met: null, value: null, detail: 'deliveries/s' };
  const offered = `deliveries/s (offered ${o.eventsPerSec}/s)`;
  if (o.eventsPerSec < SLOW_TARGET_PER_SEC) {
    return {
      id,
      target,
      met: null,
      value: o.slowOriginRate ?? null,
      detail: `${offered}: load below the target`,
    };
  }
  return { id, target, ...atLeast(o.slowOriginRate, SLOW_TARGET_PER_SEC), detail: offered };
}
