/**
 * Group `log`: what the delivery log costs. The fan-out-1 throughput scenario (undici, the pre-loaded
 * topic) four times in a row: DELIVERY_LOG=off, =all, =failures (every answer is a 2xx: nothing logged),
 * =off again; the cost is 1 − all ÷ mean(off), so a machine whose load drifts during the group biases
 * neither side. The log's tables are emptied before
 * each run (every run writes a row per attempt and per event into the same database).
 */
import pg from 'pg';

export const LOG_RUNS = ['log.off.1', 'log.all', 'log.failures', 'log.off.2'] as const;

export const LOG_COST_TARGET = 0.15;

/** The connector's settings of each run of the group. */
export function logRunEnv(name: (typeof LOG_RUNS)[number]): Record<string, string> {
  return { DELIVERY_LOG: name === 'log.all' ? 'all' : name === 'log.failures' ? 'failures' : 'off' };
}

/** Empties the delivery log's tables of the run's database (between runs). */
export async function truncateLog(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('truncate webhook_log_attempts, webhook_log_messages');
  } finally {
    await client.end();
  }
}

interface Found {
  readonly rate: number | null;
  readonly cpuMicrosPerDelivery: number | null;
  readonly outcomes?: Record<string, number>;
}

const mean = (xs: readonly (number | null | undefined)[]): number | null => {
  const ok = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return ok.length === 0 ? null : ok.reduce((s, x) => s + x, 0) / ok.length;
};

/** The group's comparison lines and its target (`1 − on ÷ off` ≤ 15 %). */
export function logComparisons(find: (name: string) => Found | undefined): {
  ratios: { name: string; value: number | null; detail: string }[];
  targets: { target: string; met: boolean | null; value: number | null; detail: string }[];
} {
  const on = find('log.all');
  const failures = find('log.failures');
  const offRate = mean([find('log.off.1')?.rate, find('log.off.2')?.rate]);
  const offCpu = mean([find('log.off.1')?.cpuMicrosPerDelivery, find('log.off.2')?.cpuMicrosPerDelivery]);
  const cost = on?.rate != null && offRate !== null && offRate > 0 ? 1 - on.rate / offRate : null;
  const cpu =
    on?.cpuMicrosPerDelivery != null && offCpu !== null && offCpu > 0
      ? on.cpuMicrosPerDelivery / offCpu
      : null;
  const written = on?.outcomes?.['log.attempts'];
  const dropped = on?.outcomes?.['log.dropped'];
  return {
    ratios: [
      {
        name: 'delivery log, fan-out 1: DELIVERY_LOG=all ÷ off (mean of the runs before and after), deliveries/s',
        value: cost === null ? null : 1 - cost,
        detail: `all ${on?.rate?.toFixed(0) ?? '?'}/s, off ${offRate?.toFixed(0) ?? '?'}/s; ${written ?? '?'} attempt rows written, ${dropped ?? '?'} dropped`,
      },
      { name: 'delivery log, fan-out 1: CPU µs/delivery, all ÷ off', value: cpu, detail: '' },
      {
        name: 'delivery log, fan-out 1: DELIVERY_LOG=failures (all answers 2xx) ÷ off, deliveries/s',
        value: failures?.rate != null && offRate !== null && offRate > 0 ? failures.rate / offRate : null,
        detail: '',
      },
    ],
    targets: [
      {
        target: 'delivery log cost ≤ 15 % of throughput (fan-out 1, every attempt logged)',
        met: cost === null ? null : cost <= LOG_COST_TARGET,
        value: cost,
        detail: '1 − on ÷ off',
      },
    ],
  };
}
