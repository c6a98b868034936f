/**
 * The naive baseline: the obvious Kafka → webhook bridge. kafkajs `eachMessage` (one message at a time
 * per consumer), for each message: parse, find the matching subscriptions, build and sign the body (JWT
 * included, per delivery), `await` one POST per subscriber in turn, then commit that message's offset.
 * Same client config, same HTTP transport and settings, same subscriptions (loaded once from Postgres)
 * as the connector, so the difference is the design, not the parts.
 */
import { loadConfig } from '../src/config.js';
import { buildEnvelope } from '../src/delivery/envelope.js';
import { buildAttemptHeaders } from '../src/delivery/headers.js';
import { prepareSubscription } from '../src/delivery/prepared-subscription.js';
import { signHub } from '../src/delivery/signing.js';
import { webhookId } from '../src/delivery/webhook-id.js';
import { decodeRecord } from '../src/events/decode-record.js';
import { createKafka } from '../src/kafka/create-kafka.js';
import { createLogger } from '../src/logger.js';
import { createSubscriptionStore } from '../src/subscriptions/pg-store.js';
import { createPgPool } from '../src/subscriptions/pool.js';
import { createTransportFromConfig } from '../src/transport/create-transport.js';
import { USER_AGENT } from '../src/version.js';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger('warn');
  const seconds = Number(process.env.SECONDS ?? '15');
  const pool = createPgPool({ connectionString: config.DATABASE_URL, logger, max: 1 });
  const subscriptions = await createSubscriptionStore(pool).loadEnabled();
  await pool.end();
  const transport = createTransportFromConfig(config);
  const consumer = createKafka(config, logger).consumer({
    groupId: config.KAFKA_GROUP_ID,
    sessionTimeout: config.KAFKA_SESSION_TIMEOUT_MS,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [...config.KAFKA_TOPICS], fromBeginning: true });
  let delivered = 0;
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ topic, partition, message }) => {
      const decoded = await decodeRecord(
        message.value,
        { topic, partition, offset: message.offset },
        { maxRecordBytes: config.MAX_RECORD_BYTES },
      );
      if (decoded.ok) {
        const event = decoded.event;
        for (const sub of subscriptions.filter(
          (s) => s.event === event.event && (s.global || s.idProject === event.idProject),
        )) {
          const prepared = prepareSubscription(sub, Date.now());
          const body = buildEnvelope(prepared, event);
          const msgId = webhookId(event.id, sub.id);
          for (let attempt = 1; attempt <= config.RETRY_SCHEDULE.length + 1; attempt++) {
            const headers = buildAttemptHeaders({
              prepared,
              event: event.event,
              msgId,
              body,
              hub: signHub(sub.secret, body),
              attempt,
              sentAtMs: Date.now(),
              userAgent: USER_AGENT,
              legacySecretHeader: false,
            });
            const r = await transport.send({ url: sub.target, headers, body });
            if (r.kind === 'response' && r.status < 300) break;
          }
          delivered++;
        }
      }
      await consumer.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
    },
  });
  setTimeout(() => {
    process.send?.({ type: 'result', delivered });
    process.exit(0);
  }, seconds * 1000);
}

main().catch((err: unknown) => {
  process.stderr.write(`naive: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
