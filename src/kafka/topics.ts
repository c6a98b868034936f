/**
 * The topics the connector needs, before it joins its group: kafkajs fails to subscribe to a topic that does
 * not exist, so the consumed topics are waited for (the instance stays not ready meanwhile instead of
 * crash-looping), and the dead-letter topic is created when missing.
 */
import type { Kafka } from 'kafkajs';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';

/** How often the topic list is read again while a consumed topic is missing. */
const TOPIC_POLL_MS = 2_000;

export async function prepareTopics(
  kafka: Kafka,
  o: {
    readonly topics: readonly string[];
    readonly deadLetterTopic: string;
    readonly clock: Clock;
    readonly logger: Logger;
    /** True once the app is stopping: the wait ends with an error instead of going on. */
    readonly stopRequested: () => boolean;
  },
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (let waited = 0; ; waited++) {
      const existing = new Set(await admin.listTopics());
      const missing = o.topics.filter((t) => !existing.has(t));
      if (missing.length === 0) {
        if (!existing.has(o.deadLetterTopic)) {
          await admin
            .createTopics({ topics: [{ topic: o.deadLetterTopic }], waitForLeaders: true })
            .catch((err: unknown) => {
              o.logger.warn(
                { err, topic: o.deadLetterTopic },
                'could not create the dead-letter topic; relying on auto-creation',
              );
            });
        }
        return;
      }
      if (waited % 15 === 0) o.logger.warn({ missing }, 'waiting for the consumed topics to exist');
      if (o.stopRequested()) throw new Error('stopped while waiting for topics');
      await o.clock.sleep(TOPIC_POLL_MS);
    }
  } finally {
    await admin.disconnect();
  }
}
