/**
 * A private single Kafka broker for a test that takes a broker down (the shared one on 9092 must never
 * be): started by `test/infra/infra.sh broker-start` (the only launcher of broker JVMs) with the shared
 * broker's configuration and jars, on free ports, its data in a temporary directory kept across restarts
 * (a restart keeps its records). Stopped by its PID only; `destroy` (call it in afterAll) kills it if
 * alive and removes its data, and a test process that dies without afterAll kills it on exit.
 *
 * `freeze()` stops the JVM with SIGSTOP: its sockets stay open and nothing answers, which is what a hung
 * or partitioned broker looks like to a client (no quick "connection refused"); `thaw()` resumes it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';

const INFRA_SH = fileURLToPath(new URL('../infra/infra.sh', import.meta.url));
const run = promisify(execFile);

export interface OwnBroker {
  /** `host:port` of its PLAINTEXT listener (the service's KAFKA_BROKERS). */
  readonly brokers: string;
  /** A kafkajs client on it that logs nothing. */
  kafka(): Kafka;
  /** Creates `topic` and waits for its partitions' leaders. */
  createTopic(topic: string, partitions?: number): Promise<void>;
  /** Starts it again on the same data; resolves once kafkajs can use it. */
  start(): Promise<void>;
  /** Sends `signal` to its PID and waits for the process to be gone. */
  stop(signal: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** SIGSTOP: the broker stops answering, its connections stay open. */
  freeze(): void;
  /** SIGCONT. */
  thaw(): void;
  /** SIGKILL if still running, then removes its data. */
  destroy(): Promise<void>;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function portFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** An INFRA_PORT_OFFSET whose three ports (9092, 9093, 9094 + offset) are free. */
async function freeOffset(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const offset = 20_000 + Math.floor(Math.random() * 20_000);
    const ports = [9092, 9093, 9094].map((p) => p + offset);
    if ((await Promise.all(ports.map(portFree))).every(Boolean)) return offset;
  }
  throw new Error('no free ports for a private broker');
}

export async function startOwnBroker(): Promise<OwnBroker> {
  const dir = await mkdtemp(join(tmpdir(), 'own-broker-'));
  const offset = await freeOffset();
  const brokers = `127.0.0.1:${9092 + offset}`;
  let pid: number | null = null;
  const signal = (s: NodeJS.Signals): void => {
    if (pid !== null && alive(pid)) process.kill(pid, s);
  };
  // A test process that dies without afterAll must not leave a (possibly frozen) JVM behind.
  const killOnExit = (): void => signal('SIGKILL');
  const start = async (): Promise<void> => {
    const { stdout } = await run('bash', [INFRA_SH, 'broker-start', dir], {
      env: { ...process.env, INFRA_PORT_OFFSET: String(offset) },
      timeout: 180_000,
    });
    pid = Number(stdout.trim().split('\n').at(-1));
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`broker-start printed no PID: ${stdout}`);
  };
  const stop = async (s: 'SIGTERM' | 'SIGKILL'): Promise<void> => {
    if (pid === null || !alive(pid)) return;
    process.kill(pid, s);
    const deadline = Date.now() + 90_000;
    while (alive(pid)) {
      if (Date.now() > deadline) throw new Error(`broker pid ${pid} still alive 90 s after ${s}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  try {
    await start();
  } catch (err) {
    // A broker that started but never answered: its PID file names it (the JVM's command line has `dir`).
    const started = Number((await readFile(join(dir, 'broker.pid'), 'utf8').catch(() => '')).trim());
    const cmdline = await readFile(`/proc/${started}/cmdline`, 'utf8').catch(() => '');
    if (started > 0 && cmdline.includes(dir)) process.kill(started, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  process.once('exit', killOnExit);
  const kafka = (): Kafka =>
    new Kafka({
      clientId: 'own-broker-test',
      brokers: [brokers],
      logLevel: logLevel.NOTHING,
      retry: { retries: 5 },
    });
  return {
    brokers,
    kafka,
    async createTopic(topic, partitions = 1) {
      const admin = kafka().admin();
      await admin.connect();
      try {
        await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
      } finally {
        await admin.disconnect();
      }
    },
    start,
    stop,
    freeze: () => signal('SIGSTOP'),
    thaw: () => signal('SIGCONT'),
    async destroy() {
      process.off('exit', killOnExit);
      await stop('SIGKILL').catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
