/**
 * Configuration: environment variables only, read against `configSpec` (config-spec.ts, the single table
 * the README's config table is generated from). `loadConfig` checks every variable, collects *all*
 * problems, and throws one CONFIG_INVALID error listing them; the result is frozen.
 */
import { configSpec, type Config, type ConfigKey, type VariableSpec } from './config-spec.js';
import { ConnectorError, ErrorCode } from './errors.js';
import { createJwtSigner, type JwtAlgorithm } from './delivery/jwt.js';

export { configSpec, type Config, type ConfigKey } from './config-spec.js';

const TRUE = new Set(['1', 'true', 'yes', 'on']);
const FALSE = new Set(['0', 'false', 'no', 'off']);

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

/**
 * `5s,5m,30m,2h` → [5000, 300000, 1800000, 7200000]; units ms, s, m, h (required, so that `5` cannot mean
 * 5 ms to one reader and 5 s to another). Empty text is an empty list. Bad entries are reported by name.
 */
export function parseDurations(text: string): { values: number[]; errors: string[] } {
  const values: number[] = [];
  const errors: string[] = [];
  if (text.trim() === '') return { values, errors };
  for (const entry of text.split(',').map((s) => s.trim())) {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(entry);
    const ms = m ? Math.round(Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]) : NaN;
    if (!Number.isSafeInteger(ms)) {
      errors.push(
        entry === ''
          ? 'empty entry'
          : `${JSON.stringify(entry)} is not a duration (a number with unit ms, s, m or h, e.g. 5s)`,
      );
    } else values.push(ms);
  }
  return { values, errors };
}

/** Settings that no longer exist; setting one is refused rather than silently ignored. */
export const removedSettings: Readonly<Record<string, string>> = {
  DELIVERY_MAX_ATTEMPTS: 'the number of attempts is the number of RETRY_SCHEDULE entries + 1',
  RETRY_INITIAL_DELAY_MS: 'the wait before attempt 2 is the first RETRY_SCHEDULE entry',
  RETRY_MULTIPLIER: 'RETRY_SCHEDULE lists every wait',
  RETRY_MAX_DELAY_MS: 'RETRY_SCHEDULE lists every wait',
};

function parseOne(key: string, spec: VariableSpec, raw: string | undefined, problems: string[]): unknown {
  if (spec.type === 'durations') {
    const { values, errors } = parseDurations(raw ?? spec.default);
    for (const e of errors) problems.push(`${key}: ${e}, in ${JSON.stringify(raw)}`);
    return values;
  }
  if (raw === undefined) return spec.default;
  const value = raw.trim();
  switch (spec.type) {
    case 'string':
      if (spec.oneOf && !spec.oneOf.includes(value)) {
        problems.push(
          `${key}: must be one of ${spec.oneOf.map((v) => JSON.stringify(v)).join(', ')}, got ${JSON.stringify(raw)}`,
        );
      }
      return value;
    case 'int':
    case 'number': {
      const n = Number(value);
      const ok = value !== '' && Number.isFinite(n) && (spec.type === 'number' || Number.isInteger(n));
      if (!ok) {
        problems.push(
          `${key}: must be ${spec.type === 'int' ? 'an integer' : 'a number'}, got ${JSON.stringify(raw)}`,
        );
        return spec.default;
      }
      if (n < spec.min || (spec.max !== undefined && n > spec.max)) {
        problems.push(`${key}: must be between ${spec.min} and ${spec.max ?? 'infinity'}, got ${n}`);
      }
      return n;
    }
    case 'bool':
      if (TRUE.has(value.toLowerCase())) return true;
      if (FALSE.has(value.toLowerCase())) return false;
      problems.push(`${key}: must be true or false, got ${JSON.stringify(raw)}`);
      return spec.default;
    case 'list': {
      const items =
        value === ''
          ? []
          : value
              .split(',')
              .map((s) => s.trim())
              .filter((s) => s !== '');
      if (items.length < (spec.minItems ?? 0)) {
        problems.push(`${key}: needs at least ${spec.minItems} item(s)`);
      }
      return items;
    }
  }
}

/** Cross-field rules that a single variable cannot express. */
function checkCombinations(c: Config, problems: string[]): void {
  for (const b of c.KAFKA_BROKERS) {
    if (!/^[^\s:/]+:\d{1,5}$/.test(b)) problems.push(`KAFKA_BROKERS: "${b}" is not host:port`);
  }
  if (c.KAFKA_SASL_MECHANISM !== '' && (c.KAFKA_SASL_USERNAME === '' || c.KAFKA_SASL_PASSWORD === '')) {
    problems.push(
      'KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required when KAFKA_SASL_MECHANISM is set',
    );
  }
  if ((c.KAFKA_SSL_CERT_FILE === '') !== (c.KAFKA_SSL_KEY_FILE === '')) {
    problems.push('KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together');
  }
  if (c.SCHEMA_REGISTRY_URL !== '' && !/^https?:\/\/[^\s]+$/.test(c.SCHEMA_REGISTRY_URL)) {
    problems.push(
      `SCHEMA_REGISTRY_URL: must be an http(s) URL, got ${JSON.stringify(c.SCHEMA_REGISTRY_URL)}`,
    );
  }
  if (!/^postgres(ql)?:\/\//.test(c.DATABASE_URL)) {
    problems.push('DATABASE_URL: must start with postgres:// or postgresql://');
  }
  for (const cidr of c.TARGET_ALLOW_CIDRS) {
    if (!/^[0-9a-fA-F.:]+\/\d{1,3}$/.test(cidr)) {
      problems.push(`TARGET_ALLOW_CIDRS: "${cidr}" is not a CIDR (address/prefix)`);
    }
  }
  if (c.PARKED_LEASE_MS < c.DELIVERY_TIMEOUT_MS + 5_000) {
    problems.push(
      `PARKED_LEASE_MS (${c.PARKED_LEASE_MS}) must be at least DELIVERY_TIMEOUT_MS + 5000 (${c.DELIVERY_TIMEOUT_MS + 5_000}), so that a claim outlives its attempt`,
    );
  }
  if (c.API_JWT_SECRET !== '' && c.API_JWT_PUBLIC_KEY !== '') {
    problems.push('API_JWT_SECRET (HS256) and API_JWT_PUBLIC_KEY (RS256) exclude each other: set one');
  }
  if (c.API_JWT_PUBLIC_KEY !== '' && !c.API_JWT_PUBLIC_KEY.includes('-----BEGIN PUBLIC KEY-----')) {
    problems.push('API_JWT_PUBLIC_KEY: must be a PEM public key (-----BEGIN PUBLIC KEY-----)');
  }
  if (c.API_JWT_SECRET !== '' && c.API_JWT_SECRET.length < 32) {
    problems.push('API_JWT_SECRET: must be at least 32 characters (HS256 needs a 256-bit key)');
  }
  if (c.GLOBAL_SECRET_OR_PRIVATE_KEY !== '') {
    try {
      createJwtSigner(c.GLOBAL_SECRET_ALGORITHM as JwtAlgorithm, c.GLOBAL_SECRET_OR_PRIVATE_KEY);
    } catch (err) {
      problems.push(
        `GLOBAL_SECRET_OR_PRIVATE_KEY: not a key for GLOBAL_SECRET_ALGORITHM ${c.GLOBAL_SECRET_ALGORITHM}: ${(err as Error).message}`,
      );
    }
  } else if (c.GLOBAL_SECRET_ALGORITHM !== 'HS256') {
    problems.push('GLOBAL_SECRET_ALGORITHM applies to GLOBAL_SECRET_OR_PRIVATE_KEY, which is not set');
  }
  const dlq = c.DLQ_TOPIC === '' ? `${c.KAFKA_TOPICS[0]}.dlq` : c.DLQ_TOPIC;
  if (c.KAFKA_TOPICS.includes(dlq)) problems.push('DLQ_TOPIC must differ from the consumed topics');
}

/** Reads every variable of `configSpec` from `env`; throws CONFIG_INVALID listing all problems at once. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const problems: string[] = [];
  for (const [key, why] of Object.entries(removedSettings)) {
    if (env[key] !== undefined) {
      problems.push(`${key} is no longer supported: use RETRY_SCHEDULE (${why}); unset ${key}`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(configSpec) as [string, VariableSpec][]) {
    out[key] = parseOne(key, spec, env[key], problems);
  }
  const config = out as Config;
  checkCombinations(config, problems);
  if (problems.length > 0) {
    throw new ConnectorError(
      ErrorCode.CONFIG_INVALID,
      `invalid configuration:\n  - ${problems.join('\n  - ')}`,
      { problems },
    );
  }
  if (config.DLQ_TOPIC === '') out.DLQ_TOPIC = `${config.KAFKA_TOPICS[0]}.dlq`;
  return Object.freeze(out) as Config;
}

/** The config with secret values masked, for the start-up log line. */
export function redactConfig(c: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(configSpec) as [ConfigKey, VariableSpec][]) {
    const v = c[key];
    out[key] = 'secret' in spec && spec.secret && v !== '' ? '[redacted]' : v;
  }
  return out;
}
