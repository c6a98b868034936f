/**
 * A Kafka broker of the test's own, for tests that take the broker down (the shared one on 9092 is used
 * by every other test and engineer, so it is never stopped): one KRaft broker+controller on two free
 * ports, PLAINTEXT only, with its own data directory, started from the broker jars in
 * <repo>/.infra/kafka/libs (or TEST_KAFKA_LIBS). test/infra/infra.sh puts them there when it starts its
 * broker; when it reused a running one, they are copied here with the same Maven command (from ~/.m2).
 * Java: KAFKA_JAVA, else `java` on the PATH, else a JDK under /usr/lib/jvm (Kafka 4.1 needs 17+).
 *
 * `freeze()` stops the JVM with SIGSTOP: its sockets stay open and nothing answers, which is what a hung
 * or partitioned broker looks like to a client (no quick "connection refused"); `thaw()` resumes it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { waitFor } from './wait.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const LIBS = process.env.TEST_KAFKA_LIBS ?? join(REPO, '.infra', 'kafka', 'libs');
const LOG4J = join(REPO, 'test', 'infra', 'kafka', 'log4j2.properties');
/** As test/infra/infra.sh's fetch_kafka. */
const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';

function ensureLibs(): void {
  if (existsSync(LIBS)) return;
  const tmp = `${LIBS}.tmp-${process.pid}`;
  execFileSync(
    'mvn',
    [
      '-B',
      '-q',
      '-f',
      join(REPO, 'test', 'infra', 'kafka', 'pom.xml'),
      `${DEPENDENCY_PLUGIN}:copy-dependencies`,
      '-DincludeScope=runtime',
      `-DoutputDirectory=${tmp}`,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  if (!existsSync(LIBS)) execFileSync('mv', [tmp, LIBS]);
  else rmSync(tmp, { recursive: true, force: true });
}

function javaBinary(): string {
  if (process.env.KAFKA_JAVA) return process.env.KAFKA_JAVA;
  const onPath = (process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'java'));
  const jdks = existsSync('/usr/lib/jvm')
    ? readdirSync('/usr/lib/jvm')
        .sort()
        .reverse()
        .map((d) => join('/usr/lib/jvm', d, 'bin', 'java'))
    : [];
  const found = [...onPath, ...jdks].find((j) => existsSync(j));
  if (!found) throw new Error('no java found for the private broker (set KAFKA_JAVA; Kafka 4.1 needs 17+)');
  return found;
}

export interface PrivateBroker {
  /** `127.0.0.1:<port>`, for KAFKA_BROKERS. */
  readonly brokers: string;
  /** A kafkajs client for the test's own admin work (topics, produce). */
  readonly kafka: Kafka;
  createTopic(topic: string, partitions?: number): Promise<void>;
  /** SIGSTOP: the broker stops answering, its connections stay open. */
  freeze(): void;
  /** SIGCONT. */
  thaw(): void;
  /** Kills the JVM and removes its data directory. */
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function properties(port: number, controllerPort: number, dataDir: string): string {
  return `process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${controllerPort}
listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}
advertised.listeners=PLAINTEXT://127.0.0.1:${port}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${dataDir}
num.partitions=1
default.replication.factor=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1
group.initial.rebalance.delay.ms=0
num.network.threads=1
num.io.threads=1
background.threads=1
num.recovery.threads.per.data.dir=1
log.cleaner.enable=false
`;
}

function java(args: string[], output: string[]): ChildProcess {
  const child = spawn(
    javaBinary(),
    [
      '-Xms128m',
      '-Xmx384m',
      '-XX:+UseSerialGC',
      '-XX:TieredStopAtLevel=1',
      '-Djava.awt.headless=true',
      `-Dlog4j2.configurationFile=${LOG4J}`,
      '-cp',
      `${LIBS}/*`,
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const keep = (chunk: Buffer): void => {
    output.push(chunk.toString('utf8'));
    if (output.length > 400) output.splice(0, output.length - 400);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return child;
}

const exited = (child: ChildProcess): Promise<number | null> =>
  child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((r) => child.once('exit', r));

export async function startPrivateBroker(): Promise<PrivateBroker> {
  ensureLibs();
  const [port, controllerPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'private-broker-'));
  const dataDir = join(dir, 'data');
  const propsFile = join(dir, 'server.properties');
  writeFileSync(propsFile, properties(port, controllerPort, dataDir));
  const output: string[] = [];
  const clusterId = Buffer.from(randomUUID().replace(/-/g, ''), 'hex').toString('base64url');
  const format = java(['kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', propsFile], output);
  if ((await exited(format)) !== 0) throw new Error(`StorageTool format failed:\n${output.join('')}`);

  const broker = java(['kafka.Kafka', propsFile], output);
  // A test process that dies without afterAll must not leave a (possibly frozen) JVM behind.
  const killOnExit = (): void => void broker.kill('SIGKILL');
  process.once('exit', killOnExit);
  const close = async (): Promise<void> => {
    process.off('exit', killOnExit);
    if (broker.exitCode === null && broker.signalCode === null) {
      broker.kill('SIGCONT');
      broker.kill('SIGKILL');
      await exited(broker);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const brokers = `127.0.0.1:${port}`;
  const kafka = new Kafka({
    clientId: 'private-broker-test',
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
    retry: { retries: 3 },
  });
  try {
    await waitFor(
      () => {
        if (broker.exitCode !== null) throw new Error(`broker exited:\n${output.join('').slice(-3000)}`);
        return output.join('').includes('Kafka Server started');
      },
      { timeoutMs: 120_000, intervalMs: 200, message: 'the private broker to start' },
    );
  } catch (err) {
    await close();
    throw err;
  }
  return {
    brokers,
    kafka,
    async createTopic(topic, partitions = 1) {
      const admin = kafka.admin();
      await admin.connect();
      try {
        await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
      } finally {
        await admin.disconnect();
      }
    },
    freeze: () => void broker.kill('SIGSTOP'),
    thaw: () => void broker.kill('SIGCONT'),
    close,
  };
}
