/**
 * Ceiling (a): how fast kafkajs alone consumes the pre-loaded topic, with the connector's consumer
 * settings (same client config, eachBatch, one partition batch at a time, no auto-commit) and a no-op
 * handler. Reports the steady-state records/s over IPC once `EXPECT` records were seen (or `SECONDS` passed).
 */
import { FETCH_MAX_WAIT_MS } from '../src/consumer/consumer-loop.js';
import { createKafka } from '../src/kafka/create-kafka.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { FloatList, steadyRate, steadyWindow } from './lib/stats.js';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const expect = Number(process.env.EXPECT);
  const seconds = Number(process.env.SECONDS ?? '60');
  const kafka = createKafka(config, createLogger('warn'));
  const consumer = kafka.consumer({
    groupId: config.KAFKA_GROUP_ID,
    sessionTimeout: config.KAFKA_SESSION_TIMEOUT_MS,
    heartbeatInterval: Math.max(1_000, Math.floor(config.KAFKA_SESSION_TIMEOUT_MS / 10)),
    maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
    retry: { retries: 10 },
  });
  const times = new FloatList(expect);
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  await consumer.connect();
  await consumer.subscribe({ topics: [...config.KAFKA_TOPICS], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: 1,
    eachBatch: async ({ batch, resolveOffset }) => {
      const at = performance.timeOrigin + performance.now();
      for (const m of batch.messages) {
        resolveOffset(m.offset);
        times.push(at);
      }
      if (times.length >= expect) finish();
    },
  });
  const timer = setTimeout(finish, seconds * 1000);
  await done;
  clearTimeout(timer);
  const view = times.view();
  process.send?.({ type: 'result', count: view.length, rate: steadyRate(view), window: steadyWindow(view) });
  await consumer.disconnect();
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`consume-ceiling: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
