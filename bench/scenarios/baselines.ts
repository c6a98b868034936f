/**
 * What we are compared with: the naive implementation (bench/naive.ts: eachMessage, one awaited POST,
 * a commit per message) and the closest open-source peer, @platformatic/kafka-hooks under wattpm
 * (bench/lib/peer.ts installs and starts it). Both clocks start at their first request, so their
 * start-up is left out of the rate, as ours is (ours starts at ready).
 */
import { readFileSync } from 'node:fs';
import { forkBuilt, sleep } from '../lib/child.js';
import type { BenchContext } from '../lib/context.js';
import { EVENTS_IN_TOPIC } from '../lib/data.js';
import { startPeer } from '../lib/peer.js';
import { ProcMonitor } from '../lib/proc.js';
import { currentLoad, type RunId, type RunResult } from '../lib/result.js';

export async function runNaive(ctx: BenchContext, databaseUrl: string): Promise<RunResult> {
  const { receivers, sizes: S } = ctx;
  const main = [receivers.mainPort];
  await receivers.reset();
  const loadBefore = currentLoad();
  const began = Date.now();
  const child = forkBuilt('naive', 'bench/naive.ts', {
    env: {
      KAFKA_BROKERS: '127.0.0.1:9092',
      KAFKA_TOPICS: ctx.topics.events,
      KAFKA_GROUP_ID: `${ctx.groupPrefix}${ctx.run}-naive`,
      DATABASE_URL: databaseUrl,
      TARGET_ALLOW_CIDRS: '127.0.0.1/32',
      HTTP_CLIENT: 'undici',
      HTTP_CONNECTIONS_PER_ORIGIN: String(ctx.connector.connectionsPerOrigin),
      SECONDS: String(S.capNaive + 10),
      LOG_LEVEL: 'warn',
    },
  });
  const mon = new ProcMonitor(child.pid);
  try {
    // Its clock starts at the first delivery, like the peer's.
    while ((await receivers.counted(main)) === 0) {
      if (!child.isAlive()) throw new Error(`naive exited:\n${child.output().slice(-3000)}`);
      if (Date.now() - began > 60_000) throw new Error('naive delivered nothing in 60 s');
      await sleep(100);
    }
    const startMs = Date.now();
    const endMs = await receivers.waitDeliveries(main, S.events, startMs, S.capNaive, () => child.isAlive());
    const m = await receivers.measure(main, S.events, startMs, endMs, mon);
    return {
      id: 'naive',
      system: 'naive',
      transport: 'undici',
      fanOut: 1,
      concurrency: 1,
      subscriptions: EVENTS_IN_TOPIC,
      expected: S.events,
      ...m,
      seconds: (Date.now() - began) / 1000,
      loadBefore,
      loadAfter: currentLoad(),
      notes: ['eachMessage, await each POST, commit per message'],
    };
  } finally {
    mon.stop();
    await child.kill();
  }
}

export async function runPeer(
  ctx: BenchContext,
  id: RunId,
  routes: { topic: string; url: string }[],
  ports: readonly number[],
  expected: number,
  capSeconds: number,
  warmupMs?: number,
): Promise<RunResult> {
  const { receivers } = ctx;
  await receivers.reset();
  const loadBefore = currentLoad();
  const began = Date.now();
  const peer = startPeer({
    name: id,
    groupId: `${ctx.groupPrefix}${ctx.run}-${id}`,
    routes,
    concurrency: 10,
    dlqTopic: ctx.topics.peerDlq,
    timeoutMs: ctx.isolation.timeoutMs,
    retries: 3,
    retryDelayMs: 1_000,
  });
  const mon = new ProcMonitor(peer.pid);
  try {
    // Its start-up (Watt runtime, worker thread, group join) is not part of the measured window: the
    // clock starts at the first request it sends (to any of its targets, a hung one included).
    const routePorts = routes.map((r) => Number(new URL(r.url).port));
    for (;;) {
      const seen = await receivers.seen();
      if (routePorts.some((p) => (seen[p] ?? 0) > 0)) break;
      if (!peer.isAlive()) throw new Error(`peer exited:\n${peer.output().slice(-3000)}`);
      if (Date.now() - began > 120_000) {
        throw new Error(`peer delivered nothing in 120 s:\n${peer.output().slice(-3000)}`);
      }
      await sleep(100);
    }
    const startMs = Date.now();
    const endMs = await receivers.waitDeliveries(ports, expected, startMs, capSeconds, () => peer.isAlive());
    const m = await receivers.measure(ports, expected, startMs, endMs, mon, 0.9, warmupMs);
    return {
      id,
      system: 'peer',
      transport: 'undici (global dispatcher)',
      fanOut: 1,
      concurrency: 10,
      expected,
      ...m,
      seconds: (Date.now() - began) / 1000,
      loadBefore,
      loadAfter: currentLoad(),
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
