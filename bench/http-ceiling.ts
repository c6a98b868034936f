/**
 * Ceilings (b) and (c): the connector's own HTTP transport (undici or got, from src/transport, with the
 * connector's settings) POSTing signed webhook bodies — built by the connector's own delivery code from
 * the benchmark's events, precomputed — to the same receiver, `CONCURRENCY` requests in flight, no Kafka.
 * Runs `SECONDS` (or `MAX_REQUESTS`); the receiver counts what arrived.
 */
import { loadConfig } from '../src/config.js';
import { buildEnvelope } from '../src/delivery/envelope.js';
import { buildAttemptHeaders } from '../src/delivery/headers.js';
import { prepareSubscription } from '../src/delivery/prepared-subscription.js';
import { signHub } from '../src/delivery/signing.js';
import { webhookId } from '../src/delivery/webhook-id.js';
import { decodeRecord } from '../src/events/decode-record.js';
import { createTransportFromConfig } from '../src/transport/create-transport.js';
import type { WebhookRequest } from '../src/transport/types.js';
import type { Subscription } from '../src/subscriptions/types.js';
import { USER_AGENT } from '../src/version.js';
import { benchEvent } from './lib/data.js';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const target = process.env.TARGET_URL!;
  const concurrency = Number(process.env.CONCURRENCY ?? config.DELIVERY_CONCURRENCY);
  const seconds = Number(process.env.SECONDS ?? '10');
  const maxRequests = Number(process.env.MAX_REQUESTS ?? Number.MAX_SAFE_INTEGER);
  const transport = createTransportFromConfig(config);
  const now = Date.now();
  const sub: Subscription = {
    id: '6553f0a1b2c3d4e5f6a7b8c9',
    idProject: 'P-global',
    event: 'request.create',
    target,
    secret: 'whsec_YmVuY2gtc2VjcmV0LTAtMDEyMzQ1Njc4OWFiY2RlZg==',
    previousSecret: null,
    previousSecretExpiresAt: null,
    global: true,
    enabled: true,
    ordering: 'concurrent',
    disabledReason: null,
    disabledAt: null,
    createdBy: 'bench',
    createdAt: new Date(now),
    updatedAt: new Date(now),
  };
  const prepared = prepareSubscription(sub, now);
  const requests: WebhookRequest[] = [];
  for (let i = 0; i < 1_000; i++) {
    const decoded = await decodeRecord(
      benchEvent('ceiling', i, now).value,
      { topic: 'ceiling', partition: 0, offset: String(i) },
      { maxRecordBytes: config.MAX_RECORD_BYTES },
    );
    if (!decoded.ok) throw new Error(decoded.message);
    const body = buildEnvelope(prepared, decoded.event);
    const msgId = webhookId(decoded.event.id, sub.id);
    const headers = buildAttemptHeaders({
      prepared,
      event: decoded.event.event,
      msgId,
      body,
      hub: signHub(sub.secret, body),
      attempt: 1,
      sentAtMs: now,
      userAgent: USER_AGENT,
      legacySecretHeader: false,
    });
    requests.push({ url: target, headers, body });
  }
  const deadline = Date.now() + seconds * 1000;
  let sent = 0;
  let failures = 0;
  const worker = async (): Promise<void> => {
    while (Date.now() < deadline && sent < maxRequests) {
      const r = await transport.send(requests[sent++ % requests.length]!);
      if (r.kind !== 'response' || r.status >= 300) failures++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await transport.close();
  process.send?.({ type: 'result', sent, failures });
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`http-ceiling: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
