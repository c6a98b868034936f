/**
 * The request headers of one attempt, and `webhookHeaderSpec`, the list README's header table is
 * generated from. Everything but webhook-timestamp/-signature and the attempt number is per delivery.
 * An integration test sends real deliveries in every mode and checks the receiver got exactly the
 * headers the spec lists for that mode, so the table cannot drift from what is sent.
 */
import type { PreparedSubscription } from './prepared-subscription.js';
import { signStandardWebhook, type HubSignatures } from './signing.js';

export interface WebhookHeaderSpec {
  /** As the README writes it; sent lower-case (header names are case-insensitive). */
  readonly name: string;
  /** `legacy-secret-header`: only with LEGACY_SECRET_HEADER=true. */
  readonly sent: 'always' | 'legacy-secret-header';
  /** `attempt`: a new value on every attempt; `delivery`: the same on every attempt of a delivery. */
  readonly changes: 'delivery' | 'attempt';
  /** `http-client`: HTTP/1.1 framing the transport adds; not built by buildAttemptHeaders. */
  readonly setBy: 'connector' | 'http-client';
  readonly value: string;
}

const ROTATION = 'during a secret rotation the previous secret until the overlap ends';

export const webhookHeaderSpec: readonly WebhookHeaderSpec[] = [
  {
    name: 'Content-Type',
    sent: 'always',
    changes: 'delivery',
    setBy: 'connector',
    value: '`application/json`',
  },
  {
    name: 'User-Agent',
    sent: 'always',
    changes: 'delivery',
    setBy: 'connector',
    value: '`tiledesk-webhooks (tiledesk-webhook-connector/<version>)`',
  },
  {
    name: 'X-Hub-Signature',
    sent: 'always',
    changes: 'delivery',
    setBy: 'connector',
    value: `\`sha1=\` + hex HMAC-SHA1(secret, raw body); ${ROTATION}`,
  },
  {
    name: 'X-Hub-Signature-256',
    sent: 'always',
    changes: 'delivery',
    setBy: 'connector',
    value: `\`sha256=\` + hex HMAC-SHA256(secret, raw body); verifiable with GitHub tooling; ${ROTATION}`,
  },
  {
    name: 'webhook-id',
    sent: 'always',
    changes: 'delivery',
    setBy: 'connector',
    value:
      'Idempotency key, stable per (event id, subscription id) across attempts, restarts, rebalances and replays',
  },
  {
    name: 'webhook-timestamp',
    sent: 'always',
    changes: 'attempt',
    setBy: 'connector',
    value: 'Send time of this attempt, epoch seconds',
  },
  {
    name: 'webhook-signature',
    sent: 'always',
    changes: 'attempt',
    setBy: 'connector',
    value:
      'Standard Webhooks v1: `v1,` + base64 HMAC-SHA256 over `id.timestamp.body`; two space-separated signatures (new and previous secret) during a secret rotation',
  },
  {
    name: 'X-Tiledesk-Event',
    sent: 'always',
    changes: 'delivery',
    setBy: 'connector',
    value: 'The event name',
  },
  {
    name: 'X-Webhook-Attempt',
    sent: 'always',
    changes: 'attempt',
    setBy: 'connector',
    value: 'Attempt number, 1, 2, ...',
  },
  {
    name: 'x-hook-secret',
    sent: 'legacy-secret-header',
    changes: 'delivery',
    setBy: 'connector',
    value: 'The plain secret (the previous one during a rotation overlap): Tiledesk compatibility, insecure',
  },
  {
    name: 'Host',
    sent: 'always',
    changes: 'delivery',
    setBy: 'http-client',
    value: "The target's host (and port, when not the default)",
  },
  {
    name: 'Content-Length',
    sent: 'always',
    changes: 'delivery',
    setBy: 'http-client',
    value: 'The length of the body in bytes',
  },
  {
    name: 'Connection',
    sent: 'always',
    changes: 'delivery',
    setBy: 'http-client',
    value: '`keep-alive`',
  },
];

export interface AttemptHeaderInput {
  readonly prepared: PreparedSubscription;
  readonly event: string;
  readonly msgId: string;
  readonly body: string | Buffer;
  readonly hub: HubSignatures;
  readonly attempt: number;
  readonly sentAtMs: number;
  readonly userAgent: string;
  readonly legacySecretHeader: boolean;
}

export function buildAttemptHeaders(i: AttemptHeaderInput): Record<string, string> {
  const ts = Math.floor(i.sentAtMs / 1000);
  const signatures = i.prepared.standardKeys
    .map((k) => signStandardWebhook(k, i.msgId, ts, i.body))
    .join(' ');
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': i.userAgent,
    'x-hub-signature': i.hub.sha1,
    'x-hub-signature-256': i.hub.sha256,
    'webhook-id': i.msgId,
    'webhook-timestamp': String(ts),
    'webhook-signature': signatures,
    'x-tiledesk-event': i.event,
    'x-webhook-attempt': String(i.attempt),
  };
  if (i.legacySecretHeader) headers['x-hook-secret'] = i.prepared.signingSecret;
  return headers;
}
