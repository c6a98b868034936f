import { describe, expect, it } from '@jest/globals';
import { configSpec, loadConfig, redactConfig, type Config } from '../../src/config.js';
import { ConnectorError, ErrorCode, isConnectorError } from '../../src/errors.js';

/** The problems loadConfig reports for this env (fails the test when it does not throw). */
function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(isConnectorError(err, ErrorCode.CONFIG_INVALID)).toBe(true);
    return (err as ConnectorError).details.problems as string[];
  }
  throw new Error(`expected CONFIG_INVALID for ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('loads every default from an empty environment', () => {
    const c = loadConfig({});
    for (const [key, spec] of Object.entries(configSpec)) {
      if (key === 'DLQ_TOPIC' || key === 'RETRY_SCHEDULE') continue;
      expect(c[key as keyof Config]).toEqual(spec.default);
    }
    expect(c.KAFKA_BROKERS).toEqual(['127.0.0.1:9092']);
    expect(c.KAFKA_TOPICS).toEqual(['tiledesk.events']);
    expect(c.DELIVERY_TIMEOUT_MS).toBe(10_000);
    expect(c.RETRY_SCHEDULE).toEqual([
      5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
    ]);
    expect(c.DELIVERY_CONCURRENCY).toBe(512);
    expect(c.HTTP_CONNECTIONS_PER_ORIGIN).toBe(128);
    expect(c.LEGACY_SECRET_HEADER).toBe(false);
    expect(c.HTTP_CLIENT).toBe('undici');
    expect(c.TARGET_ALLOW_CIDRS).toEqual([]);
  });

  it('reads the delivery log settings and rejects bad ones with CONFIG_INVALID', () => {
    const c = loadConfig({});
    expect([c.DELIVERY_LOG, c.DELIVERY_LOG_RETENTION_DAYS]).toEqual(['all', 14]);
    expect(loadConfig({ DELIVERY_LOG: 'failures', DELIVERY_LOG_BATCH: '50' })).toMatchObject({
      DELIVERY_LOG: 'failures',
      DELIVERY_LOG_BATCH: 50,
    });
    const problems = problemsOf({
      DELIVERY_LOG: 'some',
      DELIVERY_LOG_RETENTION_DAYS: '0',
      DELIVERY_LOG_MAX_PENDING: 'lots',
      DELIVERY_LOG_BATCH: '0',
    });
    expect(problems).toHaveLength(4);
    expect(problems[0]).toMatch(/^DELIVERY_LOG: must be one of "all", "failures", "off"/);
    expect(problems.slice(1).map((p) => p.split(':')[0])).toEqual([
      'DELIVERY_LOG_RETENTION_DAYS',
      'DELIVERY_LOG_MAX_PENDING',
      'DELIVERY_LOG_BATCH',
    ]);
  });

  it('defaults the dead-letter topic to <first topic>.dlq', () => {
    expect(loadConfig({}).DLQ_TOPIC).toBe('tiledesk.events.dlq');
    expect(loadConfig({ KAFKA_TOPICS: 'a, b' }).DLQ_TOPIC).toBe('a.dlq');
    expect(loadConfig({ DLQ_TOPIC: 'dead.letters' }).DLQ_TOPIC).toBe('dead.letters');
  });

  it('reports every bad value at once in one CONFIG_INVALID error', () => {
    let caught: unknown;
    try {
      loadConfig({
        DELIVERY_TIMEOUT_MS: 'abc',
        KAFKA_BROKERS: '',
        KAFKA_SSL: 'maybe',
        HTTP_CLIENT: 'axios',
        RETRY_SCHEDULE: '5s,x2',
        RETRY_JITTER: '1',
      });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConnectorError);
    const err = caught as ConnectorError;
    expect(err.code).toBe(ErrorCode.CONFIG_INVALID);
    const problems = err.details.problems as string[];
    expect(problems).toHaveLength(6);
    for (const name of [
      'DELIVERY_TIMEOUT_MS',
      'KAFKA_BROKERS',
      'KAFKA_SSL',
      'HTTP_CLIENT',
      'RETRY_SCHEDULE',
      'RETRY_JITTER',
    ]) {
      expect(problems.some((p) => p.startsWith(`${name}:`))).toBe(true);
      expect(err.message).toContain(name);
    }
    expect(err.message).toContain('"abc"');
    expect(err.message).toContain('"axios"');
  });

  it('reports cross-field problems together with single-variable ones', () => {
    const problems = problemsOf({ DELIVERY_TIMEOUT_MS: 'abc', KAFKA_SASL_MECHANISM: 'plain' });
    expect(problems.some((p) => p.startsWith('DELIVERY_TIMEOUT_MS'))).toBe(true);
    expect(problems.some((p) => p.includes('KAFKA_SASL_USERNAME'))).toBe(true);
  });

  describe('booleans', () => {
    it.each([
      ['true', true],
      ['TRUE', true],
      ['1', true],
      ['yes', true],
      [' on ', true],
      ['false', false],
      ['0', false],
      ['No', false],
      ['off', false],
    ])('%p → %p', (raw, value) => {
      expect(loadConfig({ LEGACY_SECRET_HEADER: raw }).LEGACY_SECRET_HEADER).toBe(value);
    });

    it.each(['', 'maybe', 'truthy', '2'])('rejects %p', (raw) => {
      expect(problemsOf({ KAFKA_SSL: raw })).toEqual([
        `KAFKA_SSL: must be true or false, got ${JSON.stringify(raw)}`,
      ]);
    });
  });

  describe('integers and numbers', () => {
    it('parses integers, trimming spaces', () => {
      expect(loadConfig({ DELIVERY_TIMEOUT_MS: ' 2500 ' }).DELIVERY_TIMEOUT_MS).toBe(2_500);
      expect(loadConfig({ OPS_PORT: '0' }).OPS_PORT).toBe(0);
    });

    it('accepts fractional values for number settings only', () => {
      expect(loadConfig({ RETRY_JITTER: '0.5' }).RETRY_JITTER).toBe(0.5);
      expect(problemsOf({ DELIVERY_TIMEOUT_MS: '1500.5' })[0]).toMatch(
        /^DELIVERY_TIMEOUT_MS: must be an integer/,
      );
    });

    it.each(['', 'abc', '10s', 'NaN', 'Infinity'])('rejects %p', (raw) => {
      expect(problemsOf({ DELIVERY_TIMEOUT_MS: raw })).toEqual([
        `DELIVERY_TIMEOUT_MS: must be an integer, got ${JSON.stringify(raw)}`,
      ]);
    });

    it('enforces min and max', () => {
      expect(problemsOf({ DELIVERY_TIMEOUT_MS: '99' })).toEqual([
        'DELIVERY_TIMEOUT_MS: must be between 100 and 120000, got 99',
      ]);
      expect(problemsOf({ CIRCUIT_FAILURE_PERCENT: '101' })[0]).toMatch(
        /^CIRCUIT_FAILURE_PERCENT: must be between 1 and 100/,
      );
      expect(problemsOf({ RETRY_JITTER: '0.95' })[0]).toMatch(/^RETRY_JITTER: must be between 0 and 0.9/);
      expect(problemsOf({ OPS_PORT: '65536' })[0]).toMatch(/^OPS_PORT/);
      expect(problemsOf({ MAX_RECORD_BYTES: '-1' })[0]).toMatch(
        /^MAX_RECORD_BYTES: must be between 1024 and infinity/,
      );
    });
  });

  describe('lists', () => {
    it('splits on commas, trims and drops empty items', () => {
      expect(loadConfig({ KAFKA_BROKERS: ' k1:9092 , k2:9093,,' }).KAFKA_BROKERS).toEqual([
        'k1:9092',
        'k2:9093',
      ]);
      expect(
        loadConfig({ TARGET_ALLOW_CIDRS: '10.0.0.0/8, 127.0.0.1/32, ::1/128' }).TARGET_ALLOW_CIDRS,
      ).toEqual(['10.0.0.0/8', '127.0.0.1/32', '::1/128']);
      expect(loadConfig({ TARGET_ALLOW_CIDRS: '' }).TARGET_ALLOW_CIDRS).toEqual([]);
    });

    it('requires at least one broker and one topic', () => {
      expect(problemsOf({ KAFKA_BROKERS: ' , ' })).toEqual(['KAFKA_BROKERS: needs at least 1 item(s)']);
      expect(problemsOf({ KAFKA_TOPICS: '' })).toEqual(['KAFKA_TOPICS: needs at least 1 item(s)']);
    });

    it('checks brokers are host:port and CIDRs are address/prefix', () => {
      expect(problemsOf({ KAFKA_BROKERS: 'kafka:9092,kafka' })).toEqual([
        'KAFKA_BROKERS: "kafka" is not host:port',
      ]);
      expect(problemsOf({ TARGET_ALLOW_CIDRS: '10.0.0.0' })).toEqual([
        'TARGET_ALLOW_CIDRS: "10.0.0.0" is not a CIDR (address/prefix)',
      ]);
    });
  });

  describe('enumerations', () => {
    it('accepts listed values and rejects others', () => {
      expect(loadConfig({ HTTP_CLIENT: 'got' }).HTTP_CLIENT).toBe('got');
      expect(loadConfig({ LOG_LEVEL: 'debug' }).LOG_LEVEL).toBe('debug');
      expect(problemsOf({ LOG_LEVEL: 'verbose' })[0]).toMatch(/^LOG_LEVEL: must be one of/);
      expect(problemsOf({ KAFKA_SASL_MECHANISM: 'gssapi' })[0]).toMatch(
        /^KAFKA_SASL_MECHANISM: must be one of/,
      );
    });
  });

  describe('LOG_LEVEL', () => {
    it('refuses trace: no line is logged at trace, so it would print nothing more than debug', () => {
      expect(problemsOf({ LOG_LEVEL: 'trace' })).toEqual([
        'LOG_LEVEL: must be one of "fatal", "error", "warn", "info", "debug", "silent", got "trace"',
      ]);
      for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'silent']) {
        expect(loadConfig({ LOG_LEVEL: level }).LOG_LEVEL).toBe(level);
      }
    });
  });

  describe('cross-field rules', () => {
    it('SASL needs both user name and password', () => {
      const rule =
        'KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required when KAFKA_SASL_MECHANISM is set';
      expect(problemsOf({ KAFKA_SASL_MECHANISM: 'scram-sha-512' })).toEqual([rule]);
      expect(problemsOf({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u' })).toEqual([rule]);
      expect(problemsOf({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_PASSWORD: 'p' })).toEqual([rule]);
      const c = loadConfig({
        KAFKA_SASL_MECHANISM: 'plain',
        KAFKA_SASL_USERNAME: 'u',
        KAFKA_SASL_PASSWORD: 'p',
      });
      expect(c.KAFKA_SASL_MECHANISM).toBe('plain');
    });

    it('client certificate and key go together', () => {
      const rule = 'KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together';
      expect(problemsOf({ KAFKA_SSL_CERT_FILE: '/c.pem' })).toEqual([rule]);
      expect(problemsOf({ KAFKA_SSL_KEY_FILE: '/k.pem' })).toEqual([rule]);
      expect(
        loadConfig({ KAFKA_SSL_CERT_FILE: '/c.pem', KAFKA_SSL_KEY_FILE: '/k.pem' }).KAFKA_SSL_KEY_FILE,
      ).toBe('/k.pem');
    });

    it('the dead-letter topic must differ from the consumed topics', () => {
      const rule = 'DLQ_TOPIC must differ from the consumed topics';
      expect(problemsOf({ KAFKA_TOPICS: 'a,b', DLQ_TOPIC: 'b' })).toEqual([rule]);
      expect(problemsOf({ KAFKA_TOPICS: 'a,a.dlq' })).toEqual([rule]); // the default a.dlq would be consumed
    });

    it('a parked-delivery lease outlives an attempt by 5 s; URLs must have the right scheme', () => {
      expect(problemsOf({ DELIVERY_TIMEOUT_MS: '60000' })).toEqual([
        'PARKED_LEASE_MS (60000) must be at least DELIVERY_TIMEOUT_MS + 5000 (65000), so that a claim outlives its attempt',
      ]);
      expect(problemsOf({ PARKED_LEASE_MS: '14999' })[0]).toMatch(
        /^PARKED_LEASE_MS \(14999\) must be at least/,
      );
      expect(loadConfig({ PARKED_LEASE_MS: '15000' }).PARKED_LEASE_MS).toBe(15_000);
      expect(loadConfig({ DELIVERY_TIMEOUT_MS: '60000', PARKED_LEASE_MS: '65000' }).PARKED_LEASE_MS).toBe(
        65_000,
      );
      expect(problemsOf({ DATABASE_URL: 'mysql://x' })).toEqual([
        'DATABASE_URL: must start with postgres:// or postgresql://',
      ]);
      expect(problemsOf({ SCHEMA_REGISTRY_URL: 'registry:8081' })[0]).toMatch(
        /^SCHEMA_REGISTRY_URL: must be an http\(s\) URL/,
      );
    });
  });

  describe('RETRY_SCHEDULE', () => {
    it('parses waits with units ms, s, m and h into milliseconds', () => {
      expect(loadConfig({ RETRY_SCHEDULE: '250ms, 5s,5m ,1.5h,2h' }).RETRY_SCHEDULE).toEqual([
        250, 5_000, 300_000, 5_400_000, 7_200_000,
      ]);
      expect(loadConfig({ RETRY_SCHEDULE: '0ms,0.5s' }).RETRY_SCHEDULE).toEqual([0, 500]);
    });

    it('accepts an empty list: one attempt only', () => {
      expect(loadConfig({ RETRY_SCHEDULE: '' }).RETRY_SCHEDULE).toEqual([]);
      expect(loadConfig({ RETRY_SCHEDULE: '  ' }).RETRY_SCHEDULE).toEqual([]);
    });

    it('names every bad entry', () => {
      expect(problemsOf({ RETRY_SCHEDULE: '5s,5,10 min,-1s,2d' })).toEqual(
        ['"5"', '"10 min"', '"-1s"', '"2d"'].map(
          (e) =>
            `RETRY_SCHEDULE: ${e} is not a duration (a number with unit ms, s, m or h, e.g. 5s), in "5s,5,10 min,-1s,2d"`,
        ),
      );
      expect(problemsOf({ RETRY_SCHEDULE: '5s,,5m' })).toEqual(['RETRY_SCHEDULE: empty entry, in "5s,,5m"']);
    });
  });

  describe('removed retry settings', () => {
    it.each([
      ['DELIVERY_MAX_ATTEMPTS', '6'],
      ['RETRY_INITIAL_DELAY_MS', '1000'],
      ['RETRY_MULTIPLIER', '4'],
      ['RETRY_MAX_DELAY_MS', '60000'],
    ])('refuses %s, pointing to RETRY_SCHEDULE', (key, value) => {
      const problems = problemsOf({ [key]: value });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(
        new RegExp(`^${key} is no longer supported: use RETRY_SCHEDULE \\(.+\\); unset ${key}$`),
      );
    });

    it('refuses them even when empty, all listed together', () => {
      expect(problemsOf({ DELIVERY_MAX_ATTEMPTS: '', RETRY_MULTIPLIER: '2' })).toHaveLength(2);
    });
  });

  it('returns a frozen object', () => {
    const c = loadConfig({ KAFKA_TOPICS: 'x' });
    expect(Object.isFrozen(c)).toBe(true);
    expect(() => {
      (c as { DELIVERY_TIMEOUT_MS: number }).DELIVERY_TIMEOUT_MS = 1;
    }).toThrow(TypeError);
    expect(c.DELIVERY_TIMEOUT_MS).toBe(10_000);
  });
});

describe('redactConfig', () => {
  it('masks every secret value and nothing else', () => {
    const c = loadConfig({
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_SASL_USERNAME: 'svc-user',
      KAFKA_SASL_PASSWORD: 'kafka-pass-123',
      SCHEMA_REGISTRY_URL: 'https://sr.example.com',
      SCHEMA_REGISTRY_PASSWORD: 'sr-pass-456',
      DATABASE_URL: 'postgres://app:db-pass-789@db:5432/app',
    });
    const r = redactConfig(c);
    expect(r.KAFKA_SASL_PASSWORD).toBe('[redacted]');
    expect(r.SCHEMA_REGISTRY_PASSWORD).toBe('[redacted]');
    expect(r.DATABASE_URL).toBe('[redacted]');
    const text = JSON.stringify(r);
    for (const secret of ['kafka-pass-123', 'sr-pass-456', 'db-pass-789']) expect(text).not.toContain(secret);
    expect(r.KAFKA_SASL_USERNAME).toBe('svc-user');
    expect(r.DELIVERY_TIMEOUT_MS).toBe(10_000);
    expect(Object.keys(r).sort()).toEqual(Object.keys(configSpec).sort());
  });

  it('leaves empty secrets visibly empty', () => {
    expect(redactConfig(loadConfig({})).KAFKA_SASL_PASSWORD).toBe('');
  });
});
