/** The request headers of one attempt. Everything but webhook-timestamp/-signature and the attempt number is per delivery. */
import type { PreparedSubscription } from './prepared-subscription.js';
import { signStandardWebhook, type HubSignatures } from './signing.js';

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
