/** Encodes sample events in the Confluent wire format (Avro) through the schema registry. */
import type { Config } from '../config.js';
import { ConnectorError, ErrorCode } from '../errors.js';
import type { SampleEvent } from '../demo/sample-events.js';

export async function encodeAvroEvents(_events: readonly SampleEvent[], config: Config): Promise<Buffer[]> {
  if (config.SCHEMA_REGISTRY_URL === '') throw new ConnectorError(ErrorCode.USAGE, '--format avro needs SCHEMA_REGISTRY_URL');
  throw new ConnectorError(ErrorCode.USAGE, 'avro encoding is provided by the schema-registry module');
}
