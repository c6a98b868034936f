/**
 * Ceiling (d): the work a delivery needs besides Kafka and HTTP, with neither — the connector's own code
 * over the benchmark's record values: decode and validate the JSON (once per record), then webhook-id,
 * envelope encoded once, the two X-Hub HMACs and the per-attempt headers with the Standard Webhooks HMAC.
 * One thread, in a loop, for `SECONDS`; reports deliveries/s and CPU µs per delivery. A single-threaded
 * pipeline cannot beat 1 / (1/consume + 1/work + 1/http): that bound is what the throughput is compared with.
 */
import { cpuUsage } from 'node:process';
import { buildEnvelope } from '../src/delivery/envelope.js';
import { buildAttemptHeaders } from '../src/delivery/headers.js';
import { prepareSubscription } from '../src/delivery/prepared-subscription.js';
import { signHub } from '../src/delivery/signing.js';
import { webhookId } from '../src/delivery/webhook-id.js';
import { decodeRecord } from '../src/events/decode-record.js';
import type { Subscription } from '../src/subscriptions/types.js';
import { USER_AGENT } from '../src/version.js';
import { benchEvent } from './lib/data.js';

function main(): void {
  const seconds = Number(process.env.SECONDS ?? '5');
  const fanOut = Number(process.env.FAN_OUT ?? '1');
  const now = Date.now();
  const subs: Subscription[] = Array.from({ length: fanOut }, (_, k) => ({
    id: `6553f0a1b2c3d4e5f6a7b8c${k}`,
    idProject: 'P-global',
    event: 'request.create',
    target: `http://127.0.0.1:4000/s/${k}`,
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
  }));
  const prepared = subs.map((s) => prepareSubscription(s, now));
  const values = Array.from({ length: 1_000 }, (_, i) => benchEvent('work', i, now).value);
  let deliveries = 0;
  let sink = 0;
  const one = (i: number): void => {
    const decoded = decodeRecord(
      values[i % values.length]!,
      { topic: 'work', partition: 0, offset: String(i) },
      { maxRecordBytes: 1_048_576 },
    );
    if (decoded instanceof Promise || !decoded.ok) {
      throw new Error('bench event did not decode synchronously');
    }
    for (const p of prepared) {
      const body = buildEnvelope(p, decoded.event);
      const headers = buildAttemptHeaders({
        prepared: p,
        event: decoded.event.event,
        msgId: webhookId(decoded.event.id, p.subscription.id),
        body,
        hub: signHub(p.hubKey, body),
        attempt: 1,
        sentAtMs: Date.now(),
        userAgent: USER_AGENT,
        legacySecretHeader: false,
      });
      sink += headers['webhook-signature']!.length;
      deliveries++;
    }
  };
  for (let i = 0; i < 5_000; i++) one(i); // warm-up (JIT)
  deliveries = 0;
  const cpu0 = cpuUsage();
  const t0 = performance.now();
  const until = t0 + seconds * 1000;
  for (let i = 0; performance.now() < until; i++) one(i);
  const wallMs = performance.now() - t0;
  const cpu = cpuUsage(cpu0);
  process.send?.({
    type: 'result',
    deliveries,
    ratePerSec: (deliveries / wallMs) * 1000,
    cpuMicrosPerDelivery: (cpu.user + cpu.system) / deliveries,
    sink,
  });
  setTimeout(() => process.exit(0), 50);
}

try {
  main();
} catch (err) {
  process.stderr.write(`work-ceiling: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}
