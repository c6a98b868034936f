/**
 * docker-compose.yml, checked statically (no Docker engine here): it parses (with YAML merge keys, as
 * Compose reads them); start order is sound (depends_on names real services, waits for health of
 * long-running ones and for completion of one-shot jobs); the connectors are configured with configSpec
 * variables only and form one consumer group; files it mounts or builds from exist; and the demo pieces
 * (receiver, seeded subscriptions, SSRF allow-list, Prometheus targets) agree with each other.
 */
import { describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { parse } from 'yaml';
import { configSpec, loadConfig } from '../../../src/config.js';
import { SAMPLE_EVENT_NAMES } from '../../../src/commands/demo/sample-events.js';
import { configKeys, readRepoFile, repoPath } from './helpers.js';

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile?: string };
  command?: string[];
  environment?: Record<string, string | number | boolean>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] | string; disable?: boolean };
  restart?: string;
  volumes?: string[];
  stop_grace_period?: string;
}
const compose = parse(readRepoFile('docker-compose.yml'), { merge: true }) as {
  services: Record<string, ComposeService>;
  networks?: { default?: { ipam?: { config?: { subnet: string }[] } } };
};
const services = Object.entries(compose.services);
const CONNECTOR_DOCKERFILE = 'deploy/Dockerfile';

const isOneShot = (s: ComposeService) => s.restart === 'no';
const usesConnectorImage = (s: ComposeService) => s.build?.dockerfile === CONNECTOR_DOCKERFILE;
const connectors = services.filter(([, s]) => usesConnectorImage(s) && s.command?.[0] === 'run');
const env = (s: ComposeService) =>
  Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, String(v)]));
const arg = (s: ComposeService, flag: string) => s.command?.[s.command.indexOf(flag) + 1];

describe('docker-compose.yml', () => {
  it('defines the whole stack', () => {
    for (const name of [
      'kafka',
      'schema-registry',
      'postgres',
      'migrate',
      'prometheus',
      'grafana',
      'demo-receiver',
      'demo-producer',
    ]) {
      expect(compose.services[name]).toBeDefined();
    }
    expect(compose.services.kafka?.image).toMatch(/^apache\/kafka:/);
    expect(compose.services['schema-registry']?.image).toMatch(/^apicurio\/apicurio-registry:/);
    expect(compose.services.postgres?.image).toMatch(/^postgres:16/);
    expect(compose.services.migrate?.command).toEqual(['migrate']);
    expect(compose.services['demo-receiver']?.command?.[0]).toBe('demo-receiver');
    expect(compose.services['demo-producer']?.command?.[0]).toBe('produce-sample');
  });

  it('gives every long-running service a healthcheck; only one-shot jobs (restart: "no") go without', () => {
    const missing = services
      .filter(([, s]) => !isOneShot(s) && (!s.healthcheck || s.healthcheck.disable))
      .map(([n]) => n);
    expect(missing).toEqual([]);
  });

  it('depends only on defined services, waiting for health or for a one-shot job to complete', () => {
    const problems: string[] = [];
    for (const [name, s] of services) {
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        const target = compose.services[dep];
        if (!target) problems.push(`${name} -> ${dep}: no such service`);
        else if (isOneShot(target) && condition !== 'service_completed_successfully') {
          problems.push(`${name} -> ${dep}: ${condition}`);
        } else if (!isOneShot(target) && condition !== 'service_healthy') {
          problems.push(`${name} -> ${dep}: ${condition}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('has no dependency cycle', () => {
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (name: string, path: string[]): void => {
      if (state.get(name) === 'done') return;
      if (state.get(name) === 'visiting') throw new Error(`cycle: ${[...path, name].join(' -> ')}`);
      state.set(name, 'visiting');
      for (const dep of Object.keys(compose.services[name]?.depends_on ?? {})) visit(dep, [...path, name]);
      state.set(name, 'done');
    };
    expect(() => services.forEach(([name]) => visit(name, []))).not.toThrow();
  });

  it('runs two connector replicas in one consumer group on the same topics', () => {
    expect(connectors.length).toBeGreaterThanOrEqual(2);
    const groups = new Set(
      connectors.map(([, s]) => env(s).KAFKA_GROUP_ID ?? configSpec.KAFKA_GROUP_ID.default),
    );
    const topics = new Set(
      connectors.map(([, s]) => env(s).KAFKA_TOPICS ?? configSpec.KAFKA_TOPICS.default.join(',')),
    );
    expect(groups.size).toBe(1);
    expect(topics.size).toBe(1);
  });

  it('configures every service of the connector image with configSpec variables only', () => {
    const unknown = services
      .filter(([, s]) => usesConnectorImage(s))
      .flatMap(([name, s]) =>
        Object.keys(s.environment ?? {})
          .filter((k) => !configKeys.has(k))
          .map((k) => `${name}: ${k}`),
      );
    expect(unknown).toEqual([]);
  });

  it('gives every service of the connector image a configuration loadConfig accepts', () => {
    for (const [, s] of services.filter(([, svc]) => usesConnectorImage(svc))) {
      expect(() => loadConfig(env(s))).not.toThrow();
    }
  });

  it("checks connectors' readiness (/readyz) on their ops port", () => {
    for (const [, s] of connectors) {
      const port = env(s).OPS_PORT ?? String(configSpec.OPS_PORT.default);
      expect(JSON.stringify(s.healthcheck?.test)).toContain(`:${port}/readyz`);
    }
  });

  it('gives connectors a stop grace period longer than their drain timeout', () => {
    for (const [, s] of connectors) {
      const drainMs = Number(
        env(s).SHUTDOWN_DRAIN_TIMEOUT_MS ?? configSpec.SHUTDOWN_DRAIN_TIMEOUT_MS.default,
      );
      const grace = /^(\d+)s$/.exec(s.stop_grace_period ?? '');
      expect(grace).not.toBeNull();
      expect(Number(grace![1]) * 1000).toBeGreaterThan(drainMs);
    }
  });

  it('builds from and mounts files that exist in the repository', () => {
    const missing: string[] = [];
    for (const [name, s] of services) {
      if (s.build) {
        if (!existsSync(repoPath(s.build.context))) missing.push(`${name}: build context ${s.build.context}`);
        const dockerfile = `${s.build.context}/${s.build.dockerfile ?? 'Dockerfile'}`;
        if (!existsSync(repoPath(dockerfile))) missing.push(`${name}: ${dockerfile}`);
      }
      for (const v of s.volumes ?? []) {
        const source = v.split(':')[0]!;
        if (source.startsWith('.') && !existsSync(repoPath(source))) {
          missing.push(`${name}: volume ${source}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });
});

describe('the demo pieces agree', () => {
  const receiver = compose.services['demo-receiver']!;
  const seed = readRepoFile('deploy/compose/seed-subscriptions.sql');

  it('opens exactly the compose subnet to the SSRF guard, so connectors may reach the demo receiver', () => {
    const subnet = compose.networks?.default?.ipam?.config?.[0]?.subnet;
    expect(subnet).toMatch(/^(10|172\.(1[6-9]|2\d|3[01])|192\.168)\./); // a private range
    for (const [, s] of connectors) expect(env(s).TARGET_ALLOW_CIDRS).toBe(subnet);
  });

  it('creates the consumed topic (enough partitions for every replica) and its dead-letter topic', () => {
    const script = (compose.services['kafka-init']?.command ?? []).join(' ');
    const topic = env(connectors[0]![1]).KAFKA_TOPICS!;
    const partitions = new RegExp(`--topic ${topic.replaceAll('.', '\\.')} --partitions (\\d+)`).exec(script);
    expect(Number(partitions?.[1])).toBeGreaterThanOrEqual(connectors.length);
    expect(script).toContain(`--topic ${topic}.dlq `);
  });

  it('runs the demo receiver on an address other containers reach', () => {
    expect(arg(receiver, '--host')).toBe('0.0.0.0');
  });

  it('seeds subscriptions that target the demo receiver with the secret it verifies', () => {
    expect(seed).toContain(`'http://demo-receiver:${arg(receiver, '--port')}/`);
    expect(seed).toContain(`'${arg(receiver, '--secret')}'`);
  });

  it('subscribes to every event the demo producer sends, for any project (global)', () => {
    expect(compose.services['demo-producer']?.command).not.toContain('--event');
    expect(SAMPLE_EVENT_NAMES.filter((e) => !seed.includes(`'${e}'`))).toEqual([]);
    expect(seed).toMatch(/\bglobal\b/);
  });

  it('has Prometheus scrape every connector replica on its ops port', () => {
    const prometheus = parse(readRepoFile('deploy/prometheus/prometheus.yml')) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    const job = prometheus.scrape_configs.find((c) => c.job_name === 'webhook-connector');
    const targets = job?.static_configs.flatMap((c) => c.targets).sort();
    const expected = connectors
      .map(([name, s]) => `${name}:${env(s).OPS_PORT ?? configSpec.OPS_PORT.default}`)
      .sort();
    expect(targets).toEqual(expected);
  });

  it("runs the management API, scraped as `<connector job>-api` (the dashboard's API panels)", () => {
    const api = compose.services.api!;
    expect(api.command).toEqual(['api']);
    expect(usesConnectorImage(api)).toBe(true);
    expect(() => loadConfig(env(api))).not.toThrow();
    expect(api.depends_on?.migrate?.condition).toBe('service_completed_successfully');
    const prometheus = parse(readRepoFile('deploy/prometheus/prometheus.yml')) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    const job = prometheus.scrape_configs.find((c) => c.job_name === 'webhook-connector-api');
    expect(job?.static_configs.flatMap((c) => c.targets)).toEqual([`api:${env(api).OPS_PORT}`]);
  });
});
