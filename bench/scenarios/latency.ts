/**
 * Group `latency`: events produced live at a fraction of the fan-out-1 maximum into a topic the connector
 * tails, after a warm-up: the topic first holds `latencyWarmup` events, which the freshly started
 * connector drains (JIT, keep-alive connections, Kafka fetch sessions), and live production starts once
 * they all arrived. Every live event is measured. How long a cold process takes to catch up is the
 * throughput runs' business, not this one's.
 */
import { sleep } from '../lib/child.js';
import type { BenchContext } from '../lib/context.js';
import { preload, produceAtRate } from '../lib/data.js';
import type { RunResult } from '../lib/result.js';
import type { OursRunner } from './ours.js';

/** `max`: the fan-out-1 maximum just measured (BENCH_LATENCY_RATE, when set, replaces it). */
export async function runLatency(
  ctx: BenchContext,
  ours: OursRunner,
  id: 'latency.half' | 'latency.quarter',
  topic: string,
  fraction: number,
  max: number | null | undefined,
): Promise<RunResult> {
  const { receivers, sizes: S } = ctx;
  const main = [receivers.mainPort];
  const forced = Number(process.env.BENCH_LATENCY_RATE ?? 0) * fraction;
  if (!max && !forced) throw new Error('needs throughput.fo1.undici in the same run (the maximum)');
  const perSecond = Math.max(10, Math.round(forced || max! * fraction));
  const warm = S.latencyWarmup;
  const live = Math.floor(perSecond * S.latencySeconds);
  await preload([topic], `${ctx.run}${id}w`, warm);
  let produced = { produced: 0, maxLagMs: 0 };
  let produceStart = 0;
  let warmSeconds = 0;
  const r = await ours(id, {
    topic,
    expected: warm + live,
    capSeconds: S.latencySeconds + 10,
    whenReady: async () => {
      const began = Date.now();
      while ((await receivers.counted(main)) < warm) {
        if (Date.now() - began > 60_000) throw new Error('warm-up backlog not delivered within 60 s');
        await sleep(20);
      }
      warmSeconds = (Date.now() - began) / 1000;
      produceStart = Date.now();
      produced = await produceAtRate(topic, `${ctx.run}${id}`, perSecond, S.latencySeconds, warm);
    },
  });
  const s = await receivers.summarize(main, { producedFromMs: produceStart });
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
}
