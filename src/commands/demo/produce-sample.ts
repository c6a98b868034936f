/** `webhook-connector produce-sample`: produces sample Tiledesk events (JSON, or Avro through the schema registry). */
import { Partitioners, type Kafka } from 'kafkajs';
import type { Config } from '../../config.js';
import { ConnectorError, ErrorCode } from '../../errors.js';
import { parseFlags } from '../../flags.js';
import { encodeAvroEvents } from './avro-producer.js';
import { SAMPLE_EVENT_NAMES, sampleEvent } from './sample-events.js';

export const PRODUCE_SAMPLE_USAGE = `usage: webhook-connector produce-sample [--topic T] [--count N] [--project P ...] [--event E ...] [--format json|avro]

  --topic    topic to write to (default: the first of KAFKA_TOPICS)
  --count    number of events (default 10)
  --project  project id(s) to cycle through (default demo-project)
  --event    event name(s) to cycle through (default ${SAMPLE_EVENT_NAMES.join(', ')})
  --format   json (default) or avro (registers the schema at SCHEMA_REGISTRY_URL)`;

export async function runProduceSample(
  argv: readonly string[],
  d: { config: Config; kafka: Kafka; out: (line: string) => void },
): Promise<number> {
  const f = parseFlags(
    argv,
    { string: ['topic', 'count', 'format'], multi: ['project', 'event'], boolean: ['help'] },
    PRODUCE_SAMPLE_USAGE,
  );
  if (f.help) {
    d.out(PRODUCE_SAMPLE_USAGE);
    return 0;
  }
  const topic = f.topic ?? d.config.KAFKA_TOPICS[0]!;
  const count = Number(f.count ?? '10');
  if (!Number.isInteger(count) || count < 1) {
    throw new ConnectorError(
      ErrorCode.USAGE,
      `--count must be a positive integer\n\n${PRODUCE_SAMPLE_USAGE}`,
    );
  }
  const format = f.format ?? 'json';
  if (format !== 'json' && format !== 'avro') {
    throw new ConnectorError(ErrorCode.USAGE, `--format must be json or avro\n\n${PRODUCE_SAMPLE_USAGE}`);
  }
  const projects = f.project.length > 0 ? f.project : ['demo-project'];
  const events = f.event.length > 0 ? f.event : [...SAMPLE_EVENT_NAMES];
  const samples = Array.from({ length: count }, (_, i) =>
    sampleEvent(events[i % events.length]!, projects[i % projects.length]!),
  );
  const values =
    format === 'avro'
      ? await encodeAvroEvents(samples, d.config, topic)
      : samples.map((s) => Buffer.from(JSON.stringify(s)));
  const producer = d.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    await producer.send({
      topic,
      acks: -1,
      messages: samples.map((s, i) => ({ key: s.id_project, value: values[i]! })),
    });
  } finally {
    await producer.disconnect();
  }
  d.out(`produced ${count} ${format} event(s) to ${topic}`);
  return 0;
}
