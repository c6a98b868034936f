/**
 * Group `isolation`: ten subscribers, subscriber 0 answering or hanging (DELIVERY_TIMEOUT_MS =
 * the isolation timeout); the rate of the healthy nine over a fixed window after a warm-up, ours and the
 * peer's. For kafka-hooks (one topic per subscriber) the hung one is the first topic of its config,
 * whose records come first in each fetch; were it the last, a pre-loaded backlog would let the other
 * nine drain before the hung records reach the head of its window, which live traffic never allows.
 */
import type { BenchContext } from '../lib/context.js';
import { EVENTS_IN_TOPIC } from '../lib/data.js';
import { url } from '../lib/receivers.js';
import type { RunResult } from '../lib/result.js';
import { runPeer } from './baselines.js';
import type { OursRunner } from './ours.js';

/** Runs `fn` with subscriber 0 hung (or answering), and answering again afterwards. */
async function withSubscriber0<T>(ctx: BenchContext, hung: boolean, fn: () => Promise<T>): Promise<T> {
  const [hungPort = 0] = ctx.receivers.isoPorts;
  await ctx.receivers.setMode(hungPort, { kind: hung ? 'hang' : 'ok' });
  try {
    return await fn();
  } finally {
    if (hung) await ctx.receivers.setMode(hungPort, { kind: 'ok' });
  }
}

export function runIsolationOurs(
  ctx: BenchContext,
  ours: OursRunner,
  databaseUrl: string,
  hung: boolean,
): Promise<RunResult> {
  const [, ...healthy] = ctx.receivers.isoPorts;
  const n = ctx.isolation.subscribers;
  return withSubscriber0(ctx, hung, () =>
    ours(hung ? 'isolation.ours.hung' : 'isolation.ours.healthy', {
      topic: ctx.topics.iso,
      databaseUrl,
      subscriptions: n * EVENTS_IN_TOPIC,
      fanOut: n,
      ports: healthy,
      expected: healthy.length * ctx.sizes.isoEvents,
      capSeconds: ctx.sizes.capIso,
      warmupMs: ctx.isolation.warmupMs,
      env: { DELIVERY_TIMEOUT_MS: String(ctx.isolation.timeoutMs) },
    }),
  );
}

export function runIsolationPeer(ctx: BenchContext, hung: boolean): Promise<RunResult> {
  const ports = ctx.receivers.isoPorts;
  const [, ...healthy] = ports;
  const routes = ports.map((p, k) => ({ topic: ctx.topics.isoPeer(k), url: url(p, '/peer') }));
  return withSubscriber0(ctx, hung, () =>
    runPeer(
      ctx,
      hung ? 'isolation.peer.hung' : 'isolation.peer.healthy',
      routes,
      healthy,
      healthy.length * ctx.sizes.isoEvents,
      ctx.sizes.capPeerIso,
      ctx.isolation.warmupMs,
    ),
  );
}
