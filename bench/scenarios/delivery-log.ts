/**
 * Group `log`: what the delivery log costs. The fan-out-1 throughput scenario (undici, the pre-loaded
 * topic: every run reads the same 100,000 records) with DELIVERY_LOG=off and =all interleaved
 * (off, all, off, all, …, off: BENCH_LOG_ROUNDS rounds, default 3), then =failures once (every answer is a
 * 2xx: nothing logged). The machine is shared and two runs of the same setting can differ by tens of per
 * cent, so the cost is taken from medians: 1 − median(all) ÷ median(off); each all run is also compared
 * with the mean of the off runs on either side of it. Rates move with the machine's load; CPU per delivery
 * much less, so each run also reports the CPU µs per delivery of the connector and of the Postgres
 * processes serving it (bench/lib/pg-backends.ts): the log's backends, the connector's other backends,
 * and the WAL writer, checkpointer, background writer and autovacuum. The log's tables are emptied before
 * each run; after each all run, once the connector has stopped (its last batch written), their rows and
 * bytes on disk are counted: what a day of the log takes (`logStorage`).
 */
import pg from 'pg';
import type { Comparison, RunId, TargetRow } from '../lib/result.js';

export const LOG_COST_TARGET = 0.15;

/** The group's runs in order: log.off.1, log.all.1, log.off.2, …, log.all.N, log.off.N+1, log.failures. */
export function logRuns(rounds: number): RunId[] {
  const runs: RunId[] = [];
  for (let k = 1; k <= rounds; k++) runs.push(`log.off.${k}`, `log.all.${k}`);
  runs.push(`log.off.${rounds + 1}`, 'log.failures');
  return runs;
}

/** The connector's settings of each run of the group. */
export function logRunEnv(name: RunId): Record<string, string> {
  return {
    DELIVERY_LOG: name.startsWith('log.all') ? 'all' : name === 'log.failures' ? 'failures' : 'off',
  };
}

/** Runs `fn` on a connection of its own to the run's database. */
async function withClient<T>(databaseUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Empties the delivery log's tables of the run's database (between runs). */
export async function truncateLog(databaseUrl: string): Promise<void> {
  await withClient(databaseUrl, (c) => c.query('truncate webhook_log_attempts, webhook_log_messages'));
}

/** The log's rows and bytes on disk (heap, TOAST and indexes of every partition) after a run. */
export interface LogStorage {
  readonly attempts: number;
  readonly messages: number;
  readonly attemptBytes: number;
  readonly messageBytes: number;
}

/** Counts the log's rows and bytes of the run's database (after an all run, its connector stopped). */
export async function logStorage(databaseUrl: string): Promise<LogStorage> {
  const r = await withClient(databaseUrl, (c) =>
    c.query<{ attempts: string; messages: string; attempt_bytes: string; message_bytes: string }>(
      `select (select count(*) from webhook_log_attempts) as attempts,
              (select count(*) from webhook_log_messages) as messages,
              coalesce(sum(pg_total_relation_size(c.oid)) filter (where p.relname = 'webhook_log_attempts'), 0)
                as attempt_bytes,
              coalesce(sum(pg_total_relation_size(c.oid)) filter (where p.relname = 'webhook_log_messages'), 0)
                as message_bytes
         from pg_inherits i
         join pg_class c on c.oid = i.inhrelid
         join pg_class p on p.oid = i.inhparent
        where p.relnamespace = to_regnamespace(current_schema())
          and p.relname in ('webhook_log_attempts', 'webhook_log_messages')`,
    ),
  );
  const row = r.rows[0]!;
  return {
    attempts: Number(row.attempts),
    messages: Number(row.messages),
    attemptBytes: Number(row.attempt_bytes),
    messageBytes: Number(row.message_bytes),
  };
}

interface Found {
  readonly rate: number | null;
  readonly cpuMicrosPerDelivery: number | null;
  readonly postgresCpuMicrosPerDelivery?: Record<'log' | 'other' | 'background', number | null>;
  readonly mainThread?: { readonly cpuMicrosPerDelivery: number | null; readonly busyPercent: number | null };
  readonly outcomes?: Record<string, number>;
  readonly loadBefore?: { one: number };
  readonly logStorage?: LogStorage;
}

const nums = (xs: readonly (number | null | undefined)[]): number[] =>
  xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));

export function median(xs: readonly (number | null | undefined)[]): number | null {
  const ok = nums(xs).sort((a, b) => a - b);
  if (ok.length === 0) return null;
  const mid = Math.floor(ok.length / 2);
  return ok.length % 2 === 1 ? ok[mid]! : (ok[mid - 1]! + ok[mid]!) / 2;
}

const mean = (xs: readonly (number | null | undefined)[]): number | null => {
  const ok = nums(xs);
  return ok.length === 0 ? null : ok.reduce((s, x) => s + x, 0) / ok.length;
};

/** Postgres CPU µs per delivery spent for the run: all three shares. */
export function postgresMicros(r: Found | undefined): number | null {
  const p = r?.postgresCpuMicrosPerDelivery;
  if (p === undefined) return null;
  const xs = nums([p.log, p.other, p.background]);
  return xs.length === 0 ? null : xs.reduce((s, x) => s + x, 0);
}

export interface LogSummary {
  readonly offRate: number | null;
  readonly allRate: number | null;
  /** 1 − median(all) ÷ median(off). */
  readonly cost: number | null;
  /** Median over rounds of 1 − all_k ÷ mean(off_k, off_k+1). */
  readonly pairedCost: number | null;
  readonly connectorOff: number | null;
  readonly connectorAll: number | null;
  readonly postgresOff: number | null;
  readonly postgresAll: number | null;
  readonly postgresLogAll: number | null;
  /** The connector's main thread: CPU µs per delivery and % busy (medians). */
  readonly mainOff: number | null;
  readonly mainAll: number | null;
  readonly mainBusyOff: number | null;
  readonly mainBusyAll: number | null;
}

export function logSummary(find: (id: RunId) => Found | undefined, rounds: number): LogSummary {
  const off = Array.from({ length: rounds + 1 }, (_, k) => find(`log.off.${k + 1}`));
  const all = Array.from({ length: rounds }, (_, k) => find(`log.all.${k + 1}`));
  const offRate = median(off.map((r) => r?.rate));
  const allRate = median(all.map((r) => r?.rate));
  const paired = all.map((r, k) => {
    const o = mean([off[k]?.rate, off[k + 1]?.rate]);
    return r?.rate != null && o !== null && o > 0 ? 1 - r.rate / o : null;
  });
  return {
    offRate,
    allRate,
    cost: allRate !== null && offRate !== null && offRate > 0 ? 1 - allRate / offRate : null,
    pairedCost: median(paired),
    connectorOff: median(off.map((r) => r?.cpuMicrosPerDelivery)),
    connectorAll: median(all.map((r) => r?.cpuMicrosPerDelivery)),
    postgresOff: median(off.map(postgresMicros)),
    postgresAll: median(all.map(postgresMicros)),
    postgresLogAll: median(all.map((r) => r?.postgresCpuMicrosPerDelivery?.log)),
    mainOff: median(off.map((r) => r?.mainThread?.cpuMicrosPerDelivery)),
    mainAll: median(all.map((r) => r?.mainThread?.cpuMicrosPerDelivery)),
    mainBusyOff: median(off.map((r) => r?.mainThread?.busyPercent)),
    mainBusyAll: median(all.map((r) => r?.mainThread?.busyPercent)),
  };
}

const f = (v: number | null, digits = 0): string => (v === null ? '?' : v.toFixed(digits));

/** Bytes on disk per attempt row and per event row, and per delivery (medians over the all runs). */
export function storageSummary(storage: readonly (LogStorage | undefined)[]): {
  perDelivery: number | null;
  perAttempt: number | null;
  perMessage: number | null;
} {
  const ok = storage.filter((x): x is LogStorage => x !== undefined && x.attempts > 0);
  return {
    perDelivery: median(ok.map((x) => (x.attemptBytes + x.messageBytes) / x.attempts)),
    perAttempt: median(ok.map((x) => x.attemptBytes / x.attempts)),
    perMessage: median(ok.filter((x) => x.messages > 0).map((x) => x.messageBytes / x.messages)),
  };
}

/** Days of retention at a steady rate, in decimal gigabytes: what the log's partitions hold at most. */
export const retainedGigabytes = (bytesPerDelivery: number, perSecond: number, days: number): number =>
  (bytesPerDelivery * perSecond * 86_400 * days) / 1e9;

/** The group's comparison lines and its target (`1 − median(all) ÷ median(off)` ≤ 15 %). */
export function logComparisons(
  find: (id: RunId) => Found | undefined,
  rounds: number,
): { ratios: Comparison[]; targets: TargetRow[] } {
  const s = logSummary(find, rounds);
  const failures = find('log.failures');
  const written = nums(
    Array.from({ length: rounds }, (_, k) => find(`log.all.${k + 1}`)?.outcomes?.['log.attempts']),
  );
  const dropped = nums(
    Array.from({ length: rounds }, (_, k) => find(`log.all.${k + 1}`)?.outcomes?.['log.dropped']),
  );
  const stored = Array.from({ length: rounds }, (_, k) => find(`log.all.${k + 1}`)?.logStorage);
  const st = storageSummary(stored);
  const cpuAll = s.connectorAll !== null && s.postgresAll !== null ? s.connectorAll + s.postgresAll : null;
  const cpuOff = s.connectorOff !== null && s.postgresOff !== null ? s.connectorOff + s.postgresOff : null;
  return {
    ratios: [
      {
        id: 'log.all.vs.off.rate',
        name: 'delivery log, fan-out 1: median DELIVERY_LOG=all ÷ median off, deliveries/s',
        value: s.cost === null ? null : 1 - s.cost,
        detail: `all ${f(s.allRate)}/s, off ${f(s.offRate)}/s (${rounds} all runs, ${rounds + 1} off runs); paired cost ${s.pairedCost === null ? '?' : (s.pairedCost * 100).toFixed(0)} %; attempt rows written ${written.join(', ') || '?'}, dropped ${dropped.join(', ') || '?'}`,
      },
      {
        id: 'log.all.minus.off.cpu',
        name: 'delivery log, fan-out 1: CPU µs/delivery connector + Postgres, all − off (median)',
        value: cpuAll !== null && cpuOff !== null ? cpuAll - cpuOff : null,
        detail: `connector ${f(s.connectorOff)} → ${f(s.connectorAll)}, Postgres ${f(s.postgresOff, 1)} → ${f(s.postgresAll, 1)} (log backends ${f(s.postgresLogAll, 1)})`,
      },
      {
        // What the log adds to the thread that makes the deliveries. Were that thread the only limit (busy
        // ~100 % in both settings, as when Postgres, the broker and the receivers run on other cores), the
        // rate would fall by this share; here, with them on the same two cores, it falls further and the
        // thread is less busy with the log on: the rest is waiting, not work.
        id: 'log.all.vs.off.main',
        name: 'delivery log, fan-out 1: connector main-thread CPU µs/delivery, 1 − off ÷ all (median)',
        value: s.mainAll !== null && s.mainOff !== null && s.mainAll > 0 ? 1 - s.mainOff / s.mainAll : null,
        detail: `main thread ${f(s.mainOff, 1)} → ${f(s.mainAll, 1)} µs/delivery, busy ${f(s.mainBusyOff)} % → ${f(s.mainBusyAll)} %`,
      },
      {
        id: 'log.storage',
        name: 'delivery log, fan-out 1: bytes on disk per delivery, attempt and event rows with indexes (median)',
        value: st.perDelivery,
        detail: `attempt row ${f(st.perAttempt)} B, event row ${f(st.perMessage)} B; rows ${stored.map((x) => (x === undefined ? '?' : `${x.attempts}/${x.messages}`)).join(', ')}; 14 days at 1,000 deliveries/s: ${st.perDelivery === null ? '?' : f(retainedGigabytes(st.perDelivery, 1_000, 14))} GB`,
      },
      {
        id: 'log.failures.vs.off.rate',
        name: 'delivery log, fan-out 1: DELIVERY_LOG=failures (all answers 2xx) ÷ median off, deliveries/s',
        value:
          failures?.rate != null && s.offRate !== null && s.offRate > 0 ? failures.rate / s.offRate : null,
        detail: '',
      },
    ],
    targets: [
      {
        id: 'log.cost',
        target: 'delivery log cost ≤ 15 % of throughput (fan-out 1, every attempt logged)',
        met: s.cost === null ? null : s.cost <= LOG_COST_TARGET,
        value: s.cost,
        detail: '1 − median(all) ÷ median(off)',
      },
    ],
  };
}
