/**
 * The webhook receivers, in their own process (forked by bench/run.ts, controlled over IPC): plain
 * node:http servers on 127.0.0.1, one per port, that answer 200 at once, or after a delay, or fail a
 * fraction of requests with 503, or hang (never answer: the client's timeout ends the request).
 *
 * A delivery counts when it got a 2xx. Per port the arrival times are kept (and, when asked, the
 * end-to-end latency = arrival − the event's `timestamp` found in the body, which works for our envelope
 * and for the peer's raw event alike), so rates and percentiles are computed here, with bench/lib/stats.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  FloatList,
  mergeSorted,
  percentile,
  rateAfterWarmup,
  rateInWindow,
  sortedCopy,
  steadyRate,
  steadyRateToTarget,
  steadyWindow,
  type TargetRate,
} from './lib/stats.js';

export type ReceiverMode =
  | { readonly kind: 'ok' }
  | { readonly kind: 'delay'; readonly delayMs: number }
  | { readonly kind: 'fail'; readonly failRate: number }
  | { readonly kind: 'hang' };

export type ReceiverCommand =
  | { readonly id: number; readonly cmd: 'mode'; readonly port: number; readonly mode: ReceiverMode }
  | { readonly id: number; readonly cmd: 'reset'; readonly latency?: boolean }
  | { readonly id: number; readonly cmd: 'counts' }
  | { readonly id: number; readonly cmd: 'seen' }
  | {
      readonly id: number;
      readonly cmd: 'summary';
      readonly ports: readonly number[];
      readonly lo?: number;
      readonly hi?: number;
      readonly fromMs?: number;
      readonly toMs?: number;
      /** Latencies of the events produced (event timestamp) in [from, to) only (warm-up left out). */
      readonly producedFromMs?: number;
      readonly producedToMs?: number;
      readonly expected?: number;
      readonly startMs?: number;
      readonly endMs?: number;
      readonly warmupMs?: number;
    }
  | { readonly id: number; readonly cmd: 'exit' };

export interface PortSummary {
  readonly count: number;
  readonly failed: number;
  readonly firstAt: number | null;
  readonly lastAt: number | null;
  /** Steady-state deliveries/s (lo..hi of the count), over the merged ports. */
  readonly steadyRate: number | null;
  readonly window: { from: number; to: number; count: number } | null;
  /** Deliveries/s in [fromMs, toMs) when given. */
  readonly windowRate: number | null;
  /** With `expected`, `startMs`, `endMs`: the steady rate towards the expected total (see steadyRateToTarget). */
  readonly target: TargetRate | null;
  readonly latency: {
    count: number;
    p50: number | null;
    p95: number | null;
    p99: number | null;
    max: number | null;
  } | null;
}

interface PortState {
  readonly server: Server;
  mode: ReceiverMode;
  readonly arrivals: FloatList;
  readonly latencies: FloatList;
  readonly latencyProduced: FloatList;
  failed: number;
  /** Requests received, answered or not (a hung port's requests count here only). */
  seen: number;
  readonly hung: Set<ServerResponse>;
}

const ports = new Map<number, PortState>();
let recordLatency = false;
const TIMESTAMP = '"timestamp":';

function now(): number {
  return performance.timeOrigin + performance.now();
}

function handler(state: PortState) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const mode = state.mode;
    state.seen++;
    let head = '';
    if (recordLatency) {
      req.setEncoding('latin1');
      req.on('data', (chunk: string) => {
        if (head.length < 4096) head += chunk;
      });
    } else {
      req.resume();
    }
    req.on('end', () => {
      if (mode.kind === 'hang') {
        state.hung.add(res);
        res.on('close', () => state.hung.delete(res));
        return;
      }
      const answer = (): void => {
        if (mode.kind === 'fail' && Math.random() < mode.failRate) {
          state.failed++;
          res.writeHead(503, { 'content-length': '0' }).end();
          return;
        }
        const at = now();
        state.arrivals.push(at);
        if (recordLatency) {
          const k = head.indexOf(TIMESTAMP);
          if (k >= 0) {
            const ts = Number.parseInt(head.slice(k + TIMESTAMP.length, k + TIMESTAMP.length + 20), 10);
            if (Number.isFinite(ts)) {
              // Wall clock on both sides (the producer stamped the event with Date.now()).
              state.latencies.push(Date.now() - ts);
              state.latencyProduced.push(ts);
            }
          }
        }
        res.writeHead(200, { 'content-length': '0' }).end();
      };
      if (mode.kind === 'delay') setTimeout(answer, mode.delayMs);
      else answer();
    });
  };
}

async function listen(): Promise<number> {
  const state: PortState = {
    server: undefined as unknown as Server,
    mode: { kind: 'ok' },
    arrivals: new FloatList(1 << 16),
    latencies: new FloatList(1024),
    latencyProduced: new FloatList(1024),
    failed: 0,
    seen: 0,
    hung: new Set(),
  };
  const server = createServer({ keepAliveTimeout: 30_000, requestTimeout: 0 }, handler(state));
  (state as { server: Server }).server = server;
  server.maxRequestsPerSocket = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as { port: number }).port;
  ports.set(port, state);
  return port;
}

function summary(c: Extract<ReceiverCommand, { cmd: 'summary' }>): PortSummary {
  const states = c.ports.map((p) => ports.get(p)).filter((s): s is PortState => s !== undefined);
  const times =
    states.length === 1 ? states[0]!.arrivals.view() : mergeSorted(states.map((s) => s.arrivals.view()));
  const lo = c.lo ?? 0.1;
  const hi = c.hi ?? 0.9;
  let latency: PortSummary['latency'] = null;
  if (states.some((s) => s.latencies.length > 0)) {
    const all: number[] = [];
    for (const s of states) {
      const lat = s.latencies.view();
      const produced = s.latencyProduced.view();
      const from = c.producedFromMs ?? -Infinity;
      const to = c.producedToMs ?? Infinity;
      for (let k = 0; k < lat.length; k++) {
        if (produced[k]! >= from && produced[k]! < to) all.push(lat[k]!);
      }
    }
    const sorted = sortedCopy(all);
    latency = {
      count: sorted.length,
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
      max: sorted.length ? sorted[sorted.length - 1]! : null,
    };
  }
  return {
    count: times.length,
    failed: states.reduce((n, s) => n + s.failed, 0),
    firstAt: times.length ? times[0]! : null,
    lastAt: times.length ? times[times.length - 1]! : null,
    steadyRate: steadyRate(times, lo, hi),
    window: steadyWindow(times, lo, hi),
    windowRate: c.fromMs !== undefined && c.toMs !== undefined ? rateInWindow(times, c.fromMs, c.toMs) : null,
    target:
      c.expected === undefined || c.startMs === undefined || c.endMs === undefined
        ? null
        : c.warmupMs !== undefined
          ? rateAfterWarmup(times, c.expected, c.startMs, c.endMs, c.warmupMs)
          : steadyRateToTarget(times, c.expected, c.startMs, c.endMs, lo, hi),
    latency,
  };
}

function handle(c: ReceiverCommand): unknown {
  switch (c.cmd) {
    case 'mode': {
      const st = ports.get(c.port);
      if (!st) throw new Error(`no receiver on port ${c.port}`);
      st.mode = c.mode;
      return null;
    }
    case 'reset':
      recordLatency = c.latency ?? false;
      for (const st of ports.values()) {
        st.arrivals.clear();
        st.latencies.clear();
        st.latencyProduced.clear();
        st.failed = 0;
        st.seen = 0;
        for (const res of st.hung) res.destroy();
        st.hung.clear();
      }
      return null;
    case 'counts':
      return Object.fromEntries([...ports].map(([p, st]) => [p, st.arrivals.length]));
    case 'seen':
      return Object.fromEntries([...ports].map(([p, st]) => [p, st.seen]));
    case 'summary':
      return summary(c);
    case 'exit':
      setImmediate(() => process.exit(0));
      return null;
  }
}

async function main(): Promise<void> {
  const count = Number(process.env.RECEIVER_PORTS ?? '1');
  const list: number[] = [];
  for (let k = 0; k < count; k++) list.push(await listen());
  process.on('message', (c: ReceiverCommand) => {
    try {
      process.send!({ id: c.id, ok: true, result: handle(c) });
    } catch (err) {
      process.send!({ id: c.id, ok: false, error: (err as Error).message });
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ id: 0, ok: true, result: { ports: list } });
}

void main();
