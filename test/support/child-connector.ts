/**
 * Runs the real service as a child process (`node --import tsx src/cli.ts run`), the way it runs in
 * production: its own event loop, its own signal handlers, and a PID a test can SIGTERM or `kill -9`.
 * stdout/stderr are captured for the test to print or grep; readiness is polled on /readyz.
 *
 * Every child is tracked until it exits, and `stopAllChildren` (call it in afterEach/afterAll) kills the
 * ones still alive by PID, so a failed test never leaves a connector running.
 *
 * For the no-loss tests it also keeps the books of what the children delivered: `startLedgerReceiver`
 * records every (event id, subscription id) pair its receiver answered with a 2xx, `deadLetteredPairs`
 * reads the pairs of a dead-letter topic, and `accountFor` finds the pairs that are in neither.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { AssignerProtocol } from 'kafkajs';
import { KAFKA_BROKERS } from './env.js';
import { readAll, testKafka } from './kafka.js';
import { startReceiver, type Receiver, type Reply } from './receiver.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface ChildConnector {
  readonly name: string;
  readonly pid: number;
  readonly opsPort: number;
  /** stdout and stderr so far, interleaved as received. */
  output(): string;
  /** The JSON log lines so far (pino writes them to stdout), optionally only those with this `msg`. */
  logs(msg?: string): Record<string, unknown>[];
  /** Resolves when the process has exited. */
  readonly exited: Promise<ChildExit>;
  /** The exit status once exited, else null. */
  exitStatus(): ChildExit | null;
  /** Sends a signal to the child's PID (no-op once it exited). */
  signal(sig: NodeJS.Signals): void;
  /** Polls /readyz until it answers 200; fails early if the child exits. */
  waitReady(timeoutMs?: number): Promise<void>;
  /** GET on the ops server; rejects if it is unreachable. */
  get(path: string): Promise<{ status: number; body: string }>;
  /** One sample of a metric from /metrics (sum over series matching `labels`), 0 when absent. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** Label sets of every series of a metric in /metrics. */
  metricLabels(name: string): Promise<Record<string, string>[]>;
  /** SIGKILL if still running, then waits for the exit. */
  kill(): Promise<ChildExit>;
}

export interface SpawnOptions {
  /** Shows in the captured output and failure messages. */
  readonly name: string;
  readonly topic: string;
  readonly groupId: string;
  readonly databaseUrl: string;
  readonly dlqTopic?: string;
  /** Any other configuration variables (override the defaults below). */
  readonly env?: Record<string, string>;
  /** Echo the child's output to this process's stderr as it comes (debugging; also CHILD_CONNECTOR_ECHO=1). */
  readonly echo?: boolean;
}

const live = new Set<ChildConnector>();
// Last resort if the test process itself goes away (a crash, jest's forced exit): no orphaned connector.
process.once('exit', () => {
  for (const c of live) {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** A free TCP port on 127.0.0.1 (the ops server binds it right after). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function spawnConnector(o: SpawnOptions): Promise<ChildConnector> {
  const opsPort = await freePort();
  // A clean environment: only what node needs, then the service's configuration. The parent's own
  // KAFKA_*/DATABASE_URL (a developer shell, CI) must not leak into the child.
  const base: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ']) {
    const v = process.env[key];
    if (v !== undefined) base[key] = v;
  }
  const env: Record<string, string> = {
    ...base,
    KAFKA_BROKERS,
    KAFKA_TOPICS: o.topic,
    KAFKA_GROUP_ID: o.groupId,
    KAFKA_FROM_BEGINNING: 'true',
    KAFKA_CLIENT_ID: o.name,
    DLQ_TOPIC: o.dlqTopic ?? `${o.topic}.dlq`,
    DATABASE_URL: o.databaseUrl,
    TARGET_ALLOW_CIDRS: '127.0.0.1/32',
    OPS_HOST: '127.0.0.1',
    OPS_PORT: String(opsPort),
    LOG_LEVEL: 'info', // quiet: start, joins, rebalances, drain, stop; plus every dead letter (warn)
    ...o.env,
  };
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'run'], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`${o.name}: spawn failed`);
  const pid = child.pid;
  const echo = o.echo ?? process.env.CHILD_CONNECTOR_ECHO === '1';
  const chunks: string[] = [];
  const stdout: string[] = [];
  const capture = (stream: 'out' | 'err') => (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    chunks.push(text);
    if (stream === 'out') stdout.push(text);
    if (echo) process.stderr.write(`[${o.name} ${stream}] ${text}`);
  };
  child.stdout?.on('data', capture('out'));
  child.stderr?.on('data', capture('err'));
  let status: ChildExit | null = null;
  // 'close', not 'exit': by then stdout/stderr are fully read, so logs() sees the last lines.
  const exited = new Promise<ChildExit>((resolve) => {
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      status = { code, signal };
      resolve(status);
    });
  });

  const get = async (path: string): Promise<{ status: number; body: string }> => {
    const res = await fetch(`http://127.0.0.1:${opsPort}${path}`, { signal: AbortSignal.timeout(2_000) });
    return { status: res.status, body: await res.text() };
  };
  const series = async (name: string): Promise<{ labels: Record<string, string>; value: number }[]> => {
    const { body } = await get('/metrics');
    const out: { labels: Record<string, string>; value: number }[] = [];
    for (const line of body.split('\n')) {
      if (!line.startsWith(name)) continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!m || m[1] !== name) continue;
      const labels: Record<string, string> = {};
      for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
      out.push({ labels, value: Number(m[3]) });
    }
    return out;
  };

  const handle: ChildConnector = {
    name: o.name,
    pid,
    opsPort,
    output: () => chunks.join(''),
    logs(msg) {
      const out: Record<string, unknown>[] = [];
      for (const line of stdout.join('').split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          if (msg === undefined || entry.msg === msg) out.push(entry);
        } catch {
          // a line cut by the kill, or not pino's
        }
      }
      return out;
    },
    exited,
    exitStatus: () => status,
    signal(sig) {
      if (status === null) process.kill(pid, sig);
    },
    async waitReady(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let last = 'no answer yet';
      while (Date.now() < deadline) {
        if (status !== null) {
          throw new Error(`${o.name} exited (${JSON.stringify(status)}) before ready:\n${handle.output()}`);
        }
        try {
          const r = await get('/readyz');
          if (r.status === 200) return;
          last = `${r.status} ${r.body}`;
        } catch (err) {
          last = (err as Error).message;
        }
        await sleep(100);
      }
      throw new Error(
        `${o.name} not ready after ${timeoutMs} ms (last /readyz: ${last}):\n${handle.output()}`,
      );
    },
    get,
    async metric(name, labels = {}) {
      const want = Object.entries(labels);
      return (await series(name))
        .filter((s) => want.every(([k, v]) => s.labels[k] === v))
        .reduce((sum, s) => sum + s.value, 0);
    },
    async metricLabels(name) {
      return (await series(name)).map((s) => s.labels);
    },
    async kill() {
      if (status === null) process.kill(pid, 'SIGKILL');
      return exited;
    },
  };
  live.add(handle);
  void exited.then(() => live.delete(handle));
  return handle;
}

/** SIGKILLs every child still alive (by its PID) and waits for them to exit. */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...live].map((c) => c.kill()));
}

/** Last `lines` lines of a child's output, for failure messages. */
export function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n');
}

/** The key of one delivery: `<event id>|<subscription id>`. */
export const pairKey = (eventId: string, subscriptionId: string): string => `${eventId}|${subscriptionId}`;

/** What a ledger receiver's script sees of a webhook: who it is for, and which attempt. */
export interface LedgerRequest {
  readonly eventId: string;
  readonly subscriptionId: string;
  readonly attempt: number;
}

export interface LedgerReceiver extends Receiver {
  /** Pair key → how many times this receiver answered it with a 2xx. */
  readonly delivered: Map<string, number>;
  /** 2xx answers so far (duplicates included). */
  okCount(): number;
}

/**
 * A receiver that keeps the ledger: `script` decides the answer (it may wait, e.g. to be slow); a 2xx is
 * recorded when it is being sent, after the wait. The event id is the payload's `id` (the tests put the
 * event's id there), the subscription id is the envelope's `hook._id`.
 */
export async function startLedgerReceiver(
  script: (r: LedgerRequest) => Reply | Promise<Reply>,
): Promise<LedgerReceiver> {
  const delivered = new Map<string, number>();
  let ok = 0;
  const receiver = await startReceiver(async (request) => {
    const body = JSON.parse(request.body) as { hook: { _id: string }; payload: { id: string } };
    const r: LedgerRequest = {
      eventId: body.payload.id,
      subscriptionId: body.hook._id,
      attempt: Number(request.headers['x-webhook-attempt']),
    };
    const { delayMs, ...reply } = await script(r);
    if (delayMs !== undefined && delayMs > 0) await sleep(delayMs);
    const status = reply.status ?? 200;
    if (status >= 200 && status < 300 && !reply.hang && !reply.destroy) {
      const key = pairKey(r.eventId, r.subscriptionId);
      delivered.set(key, (delivered.get(key) ?? 0) + 1);
      ok++;
    }
    return reply;
  });
  return Object.assign(receiver, { delivered, okCount: () => ok });
}

/** Pair key → how many dead letters of `topic` carry it (headers dlq-event-id / dlq-subscription-id). */
export async function deadLetteredPairs(topic: string): Promise<Map<string, number>> {
  const pairs = new Map<string, number>();
  for (const record of await readAll(topic, { timeoutMs: 20_000 })) {
    const key = pairKey(record.headers['dlq-event-id'] ?? '?', record.headers['dlq-subscription-id'] ?? '?');
    pairs.set(key, (pairs.get(key) ?? 0) + 1);
  }
  return pairs;
}

export interface Accounting {
  /** Pairs neither answered 2xx nor dead-lettered: lost. */
  readonly missing: string[];
  /** Pairs handled more than once (2xx answers plus dead letters > 1). */
  readonly duplicated: number;
  /** Extra handlings in total (sum of count − 1 over duplicated pairs). */
  readonly extraDeliveries: number;
  /** A few duplicated pairs with their counts, for the printout. */
  readonly duplicateSample: string[];
  readonly delivered: number;
  readonly deadLettered: number;
}

/** Accounts for every (event, subscription) pair against the receivers' ledgers and the dead letters. */
export function accountFor(
  eventIds: readonly string[],
  subscriptionIds: readonly string[],
  delivered: readonly Map<string, number>[],
  deadLettered: Map<string, number>,
): Accounting {
  const missing: string[] = [];
  const duplicateSample: string[] = [];
  let duplicated = 0;
  let extraDeliveries = 0;
  let ok = 0;
  let dead = 0;
  for (const e of eventIds) {
    for (const s of subscriptionIds) {
      const key = pairKey(e, s);
      const d = delivered.reduce((sum, m) => sum + (m.get(key) ?? 0), 0);
      const dl = deadLettered.get(key) ?? 0;
      if (d > 0) ok++;
      if (dl > 0) dead++;
      if (d + dl === 0) missing.push(key);
      if (d + dl > 1) {
        duplicated++;
        extraDeliveries += d + dl - 1;
        if (duplicateSample.length < 5) duplicateSample.push(`${key} ×${d + dl}`);
      }
    }
  }
  return { missing, duplicated, extraDeliveries, duplicateSample, delivered: ok, deadLettered: dead };
}

export interface GroupMember {
  readonly clientId: string;
  /** The member's partitions of the topic asked about, sorted. */
  readonly partitions: number[];
}

/** The group as the broker sees it (admin describeGroups): its state and each member's partitions of `topic`. */
export async function describeGroup(
  groupId: string,
  topic: string,
): Promise<{ state: string; members: GroupMember[] }> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    const {
      groups: [group],
    } = await admin.describeGroups([groupId]);
    const members = (group?.members ?? []).map((m) => ({
      clientId: m.clientId,
      partitions: [
        ...(AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[topic] ?? []),
      ].sort((a, b) => a - b),
    }));
    return {
      state: group?.state ?? 'Unknown',
      members: members.sort((a, b) => a.clientId.localeCompare(b.clientId)),
    };
  } finally {
    await admin.disconnect();
  }
}
