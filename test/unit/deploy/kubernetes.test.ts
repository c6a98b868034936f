/**
 * Kubernetes manifests (deploy/kubernetes): every document parses; core kinds validate against the
 * Kubernetes OpenAPI schemas (kubernetes-models, offline); the KEDA ScaledObject has the shape KEDA needs
 * and points at the same group and topic as the ConfigMap; and the Deployment agrees with the service's
 * own defaults (ops port, probe paths, drain timeout) and the image's user.
 */
import { describe, expect, it } from '@jest/globals';
import { readdirSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { HorizontalPodAutoscalerBehavior } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscalerBehavior';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { configSpec, loadConfig } from '../../../src/config.js';
import { configKeys, readRepoFile, repoPath } from './helpers.js';

type Manifest = { apiVersion: string; kind: string; metadata?: { name?: string }; [k: string]: unknown };

const dir = 'deploy/kubernetes';
const files = readdirSync(repoPath(dir)).filter((f) => /\.ya?ml$/.test(f));
const documents: { file: string; doc: Manifest }[] = files.flatMap((file) =>
  parseAllDocuments(readRepoFile(dir, file)).map((d) => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    return { file, doc: d.toJS() as Manifest };
  }),
);
const ofKind = <T>(kind: string): T[] => documents.filter((d) => d.doc.kind === kind).map((d) => d.doc as T);
const one = <T>(kind: string, name?: string): T => {
  const all = ofKind<T>(kind).filter((d) => name === undefined || (d as Manifest).metadata?.name === name);
  if (all.length !== 1) throw new Error(`expected one ${kind}, found ${all.length}`);
  return all[0]!;
};

// Core kinds are validated by their kubernetes-models class; anything else must be checked by hand below.
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};
const HAND_CHECKED = new Set([
  'keda.sh/v1alpha1/ScaledObject',
  'kustomize.config.k8s.io/v1beta1/Kustomization',
]);

const configMap = one<{ metadata: { name: string }; data: Record<string, string> }>('ConfigMap');
const secret = one<{
  metadata: { name: string };
  stringData?: Record<string, string>;
  data?: Record<string, string>;
}>('Secret');
const deployment = one<{
  metadata: { name: string };
  spec: {
    replicas?: number;
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
      spec: {
        terminationGracePeriodSeconds: number;
        securityContext: { runAsNonRoot?: boolean; runAsUser?: number };
        containers: IContainer[];
      };
    };
  };
}>('Deployment', 'webhook-connector');
type DeploymentDoc = typeof deployment;
const service = one<{
  spec: {
    selector: Record<string, string>;
    ports: { name: string; port: number; targetPort: number | string }[];
  };
}>('Service', 'webhook-connector');
const pdb = one<{ spec: { selector: { matchLabels: Record<string, string> } } }>('PodDisruptionBudget');
const scaledObject = one<{
  apiVersion: string;
  spec: {
    scaleTargetRef: { apiVersion?: string; kind?: string; name: string };
    minReplicaCount?: number;
    maxReplicaCount?: number;
    advanced?: { horizontalPodAutoscalerConfig?: { behavior?: object } };
    triggers: { type: string; metadata: Record<string, unknown> }[];
  };
}>('ScaledObject');
const kustomization = one<{ resources: string[]; images?: { name: string }[] }>('Kustomization');

const container = deployment.spec.template.spec.containers[0]!;
/** A configuration value as a pod sees it: the ConfigMap's, else the service's default. */
const setting = (key: keyof typeof configSpec): string =>
  configMap.data[key] ?? String(configSpec[key].default);
const opsPort = Number(setting('OPS_PORT'));

describe('manifests', () => {
  it('parse, and are of known kinds', () => {
    expect(documents.length).toBeGreaterThan(0);
    const unknown = documents
      .map(({ file, doc }) => `${file}: ${doc.apiVersion}/${doc.kind}`)
      .filter((k) => !(k.split(': ')[1]! in MODELS) && !HAND_CHECKED.has(k.split(': ')[1]!));
    expect(unknown).toEqual([]);
  });

  it.each(
    documents
      .filter(({ doc }) => `${doc.apiVersion}/${doc.kind}` in MODELS)
      .map(({ file, doc }) => [file, doc] as const),
  )('%s validates against the Kubernetes schema', (_file, doc) => {
    const Model = MODELS[`${doc.apiVersion}/${doc.kind}`]!;
    expect(() => new Model(doc as never).validate()).not.toThrow();
  });

  it('are all applied by kustomization.yaml, except the Secret template', () => {
    const listed = new Set(kustomization.resources);
    const expected = files.filter((f) => f !== 'kustomization.yaml' && f !== 'secret.example.yaml');
    expect([...listed].sort()).toEqual(expected.sort());
    expect(listed.has('secret.example.yaml')).toBe(false);
    expect(kustomization.images?.map((i) => i.name)).toContain(container.image?.split(':')[0]);
  });

  it('the validator does reject an invalid manifest (guards against a no-op validate)', () => {
    const broken = { ...deployment, spec: { ...deployment.spec, selector: 'not-an-object' } };
    expect(() => new Deployment(broken as never).validate()).toThrow();
  });
});

describe('configuration', () => {
  it('sets only variables the service reads (configSpec), in the ConfigMap, the Secret and env', () => {
    const names = [
      ...Object.keys(configMap.data),
      ...Object.keys(secret.stringData ?? {}),
      ...Object.keys(secret.data ?? {}),
      ...(container.env ?? []).map((e) => e.name),
    ];
    expect(names.filter((n) => !configKeys.has(n))).toEqual([]);
  });

  it('is a configuration loadConfig accepts (ConfigMap plus the Secret template)', () => {
    expect(() => loadConfig({ ...configMap.data, ...secret.stringData })).not.toThrow();
  });

  it('keeps secrets out of the ConfigMap and holds only placeholders in the Secret template', () => {
    const secretKeys = Object.entries(configSpec)
      .filter(([, s]) => 'secret' in s && s.secret)
      .map(([k]) => k);
    expect(Object.keys(configMap.data).filter((k) => secretKeys.includes(k))).toEqual([]);
    expect(
      Object.values(secret.stringData ?? {}).filter((v) => v !== '' && !v.includes('CHANGE-ME')),
    ).toEqual([]);
  });

  it('loads the ConfigMap and the Secret into the container', () => {
    expect(container.envFrom).toEqual(
      expect.arrayContaining([
        { configMapRef: { name: configMap.metadata.name } },
        { secretRef: { name: secret.metadata.name } },
      ]),
    );
  });
});

describe('Deployment', () => {
  const pod = deployment.spec.template;
  const portNamed = (p: number | string | undefined) =>
    typeof p === 'number' ? p : container.ports?.find((cp) => cp.name === p)?.containerPort;

  it('runs the `run` subcommand and exposes the ops port (OPS_PORT, default 9464)', () => {
    expect(container.args).toEqual(['run']);
    expect(opsPort).toBe(configSpec.OPS_PORT.default);
    expect(container.ports).toEqual([expect.objectContaining({ name: 'ops', containerPort: opsPort })]);
  });

  it('probes liveness on /healthz and readiness on /readyz, on the ops port', () => {
    expect(container.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(container.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(portNamed(container.livenessProbe?.httpGet?.port)).toBe(opsPort);
    expect(portNamed(container.readinessProbe?.httpGet?.port)).toBe(opsPort);
  });

  it('lets the drain finish: terminationGracePeriodSeconds exceeds SHUTDOWN_DRAIN_TIMEOUT_MS with margin', () => {
    // After the drain the connector still commits offsets and leaves the group: keep 5 s for that.
    const drainMs = Number(setting('SHUTDOWN_DRAIN_TIMEOUT_MS'));
    expect(pod.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThanOrEqual(drainMs + 5_000);
  });

  it('is annotated for Prometheus scraping of /metrics on the ops port', () => {
    expect(pod.metadata.annotations).toMatchObject({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(opsPort),
      'prometheus.io/path': '/metrics',
    });
  });

  it('runs as the image user, non-root, read-only root filesystem, no privilege escalation, no capabilities', () => {
    const imageUser = /^USER\s+(\d+)/m.exec(readRepoFile('deploy/Dockerfile'))?.[1];
    expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: Number(imageUser) });
    expect(Number(imageUser)).toBeGreaterThan(0);
    expect(container.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
  });

  it('requests CPU and memory and limits memory', () => {
    expect(container.resources?.requests).toEqual(
      expect.objectContaining({ cpu: expect.anything(), memory: expect.anything() }),
    );
    expect(container.resources?.limits?.memory).toBeDefined();
  });

  it('leaves replicas to the autoscaler', () => {
    expect(deployment.spec.replicas).toBeUndefined();
  });

  it('is selected by its Service (ops port) and its PodDisruptionBudget', () => {
    const labels = pod.metadata.labels;
    const selects = (sel: Record<string, string>) => Object.entries(sel).every(([k, v]) => labels[k] === v);
    expect(selects(deployment.spec.selector.matchLabels)).toBe(true);
    expect(selects(service.spec.selector)).toBe(true);
    expect(selects(pdb.spec.selector.matchLabels)).toBe(true);
    expect(service.spec.ports.map((p) => [p.port, portNamed(p.targetPort)])).toEqual([[opsPort, opsPort]]);
  });
});

describe('management API Deployment', () => {
  const api = one<DeploymentDoc>('Deployment', 'webhook-connector-api');
  const c = api.spec.template.spec.containers[0]!;
  const apiService = one<typeof service>('Service', 'webhook-connector-api');
  const portNamed = (p: number | string | undefined) =>
    typeof p === 'number' ? p : c.ports?.find((cp) => cp.name === p)?.containerPort;

  it('runs `api` with the connector configuration, on API_PORT and the ops port', () => {
    expect(c.args).toEqual(['api']);
    expect(c.envFrom).toEqual(container.envFrom);
    expect(c.ports?.map((p) => [p.name, p.containerPort])).toEqual([
      ['api', Number(setting('API_PORT'))],
      ['ops', opsPort],
    ]);
    expect(portNamed(c.livenessProbe?.httpGet?.port)).toBe(opsPort);
    expect(c.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(api.spec.template.metadata.annotations['prometheus.io/port']).toBe(String(opsPort));
  });

  it('is hardened as the connector is, and selected by its own Service only', () => {
    expect(api.spec.template.spec.securityContext).toEqual(deployment.spec.template.spec.securityContext);
    expect(c.securityContext).toEqual(container.securityContext);
    const labels = api.spec.template.metadata.labels;
    expect(Object.entries(apiService.spec.selector).every(([k, v]) => labels[k] === v)).toBe(true);
    expect(Object.entries(service.spec.selector).every(([k, v]) => labels[k] === v)).toBe(false);
    expect(Object.entries(pdb.spec.selector.matchLabels).every(([k, v]) => labels[k] === v)).toBe(false);
    expect(apiService.spec.ports.map((p) => [p.port, portNamed(p.targetPort)])).toEqual([
      [Number(setting('API_PORT')), Number(setting('API_PORT'))],
      [opsPort, opsPort],
    ]);
  });
});

describe('KEDA ScaledObject', () => {
  const spec = scaledObject.spec;
  const kafka = spec.triggers.find((t) => t.type === 'kafka');

  it('is a keda.sh/v1alpha1 ScaledObject targeting the Deployment', () => {
    expect(scaledObject.apiVersion).toBe('keda.sh/v1alpha1');
    expect(spec.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: deployment.metadata.name,
    });
  });

  it('keeps at least one consumer and caps replicas with an integer maximum', () => {
    expect(spec.minReplicaCount).toBeGreaterThanOrEqual(1);
    expect(Number.isInteger(spec.maxReplicaCount)).toBe(true);
    expect(spec.maxReplicaCount!).toBeGreaterThanOrEqual(spec.minReplicaCount!);
  });

  it('has a kafka trigger on the consumer group and topic the connector uses', () => {
    expect(spec.triggers).toHaveLength(1);
    expect(kafka?.metadata).toMatchObject({
      bootstrapServers: setting('KAFKA_BROKERS'),
      consumerGroup: setting('KAFKA_GROUP_ID'),
      allowIdleConsumers: 'false',
    });
    expect(setting('KAFKA_TOPICS').split(',')).toContain(kafka?.metadata.topic);
    expect(String(kafka?.metadata.lagThreshold)).toMatch(/^[1-9]\d*$/);
  });

  it('treats a group without committed offsets the way the connector does (KAFKA_FROM_BEGINNING)', () => {
    const fromBeginning = ['1', 'true', 'yes', 'on'].includes(setting('KAFKA_FROM_BEGINNING').toLowerCase());
    expect(kafka?.metadata.offsetResetPolicy ?? 'latest').toBe(fromBeginning ? 'earliest' : 'latest');
  });

  it('gives KEDA string metadata only (its CRD is a map of strings)', () => {
    const nonStrings = Object.entries(kafka?.metadata ?? {}).filter(([, v]) => typeof v !== 'string');
    expect(nonStrings).toEqual([]);
  });

  it('has a valid HPA behavior', () => {
    const behavior = spec.advanced?.horizontalPodAutoscalerConfig?.behavior;
    expect(behavior).toBeDefined();
    expect(() => new HorizontalPodAutoscalerBehavior(behavior as never).validate()).not.toThrow();
  });
});
