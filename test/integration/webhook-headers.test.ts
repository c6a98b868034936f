/**
 * README's webhook-header table (generated from `webhookHeaderSpec`) against what a real receiver gets:
 * deliveries wired as the service wires them (configuration → deliver() → the configured transport, undici
 * and got), in every mode that changes the headers: plain, LEGACY_SECRET_HEADER=true, a secret rotation's
 * overlap, and a retry. Each request must carry exactly the headers the spec lists for its mode, and a retry
 * must repeat the `same` ones and change the `new` ones.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import type { Clock } from '../../src/clock.js';
import { loadConfig } from '../../src/config.js';
import { deliver } from '../../src/delivery/deliver.js';
import { deliverDepsFromConfig } from '../../src/delivery/deliver-deps.js';
import { webhookHeaderSpec, type WebhookHeaderSpec } from '../../src/delivery/headers.js';
import type { TiledeskEvent } from '../../src/events/event.js';
import { createTransportFromConfig } from '../../src/transport/create-transport.js';
import type { WebhookTransport } from '../../src/transport/types.js';
import { USER_AGENT } from '../../src/version.js';
import { startReceiver, type Receiver, type ReceivedRequest } from '../support/receiver.js';
import { subscription } from '../support/subscription.js';

const PREVIOUS = 'whsec_c2VjcmV0LWZyb20tYmVmb3JlLXRoZS1yb3RhdGlvbg==';

const receivers: Receiver[] = [];
const transports: WebhookTransport[] = [];
afterEach(async () => {
  await Promise.all(transports.splice(0).map((t) => t.close()));
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

/** Real time, except that a backoff sleep moves it forward at once instead of waiting. */
function jumpingClock(): Clock {
  let skipped = 0;
  return {
    now: () => Date.now() + skipped,
    sleep: async (ms) => {
      skipped += ms;
    },
  };
}

const event: TiledeskEvent = {
  id: 'evt-headers',
  event: 'request.create',
  idProject: 'P1',
  timestamp: Date.now(),
  payload: Buffer.from(JSON.stringify({ _id: 'req-1', text: 'hello' })),
  encoding: 'json',
};

/** Sends one delivery through the production wiring; the receiver answers `statuses` in turn, then 200. */
async function send(
  client: string,
  env: Record<string, string>,
  opts: { rotating?: boolean; statuses?: number[] } = {},
): Promise<ReceivedRequest[]> {
  const statuses = opts.statuses ?? [];
  const receiver = await startReceiver((_q, n) => ({ status: statuses[n - 1] ?? 200 }));
  receivers.push(receiver);
  const config = loadConfig({
    HTTP_CLIENT: client,
    TARGET_ALLOW_CIDRS: '127.0.0.1/32',
    RETRY_SCHEDULE: '5s',
    ...env,
  });
  const transport = createTransportFromConfig(config);
  transports.push(transport);
  const deps = deliverDepsFromConfig(config, { transport, clock: jumpingClock(), random: () => 0.5 });
  const sub = subscription({
    id: 'sub-headers',
    target: `${receiver.url}/hooks`,
    ...(opts.rotating
      ? { previousSecret: PREVIOUS, previousSecretExpiresAt: new Date(Date.now() + 3_600_000) }
      : {}),
  });
  const outcome = await deliver(event, sub, deps);
  expect(outcome).toMatchObject({ kind: 'delivered', attempts: statuses.length + 1 });
  return receiver.requests;
}

const names = (spec: readonly WebhookHeaderSpec[]): string[] => spec.map((h) => h.name.toLowerCase()).sort();
const documented = (legacy: boolean): string[] =>
  names(
    webhookHeaderSpec.filter((h) => h.sent === 'always' || (legacy && h.sent === 'legacy-secret-header')),
  );

describe.each(['undici', 'got'])('the webhook headers %s sends', (client) => {
  it('are exactly the documented ones, x-hook-secret left out by default', async () => {
    const [q] = await send(client, {});
    expect(Object.keys(q!.headers).sort()).toEqual(documented(false));
    expect(documented(false)).not.toContain('x-hook-secret');
    expect(q!.headers).toMatchObject({
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
      'x-tiledesk-event': 'request.create',
      'x-webhook-attempt': '1',
      'content-length': String(Buffer.byteLength(q!.body)),
      connection: 'keep-alive',
    });
  });

  it('add x-hook-secret, and nothing else, with LEGACY_SECRET_HEADER=true', async () => {
    const [q] = await send(client, { LEGACY_SECRET_HEADER: 'true' });
    expect(Object.keys(q!.headers).sort()).toEqual(documented(true));
    expect(q!.headers['x-hook-secret']).toBe(subscription().secret);
  });

  it('are the same set during a secret rotation, with two Standard Webhooks signatures', async () => {
    const [q] = await send(client, { LEGACY_SECRET_HEADER: 'true' }, { rotating: true });
    expect(Object.keys(q!.headers).sort()).toEqual(documented(true));
    expect(q!.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(q!.headers['x-hook-secret']).toBe(PREVIOUS);
  });

  it('repeat the `same` ones on a retry and change the `new` ones', async () => {
    const requests = await send(client, { LEGACY_SECRET_HEADER: 'true' }, { statuses: [503] });
    expect(requests).toHaveLength(2);
    const [first, retry] = requests as [ReceivedRequest, ReceivedRequest];
    expect(Object.keys(retry.headers).sort()).toEqual(documented(true));
    // [name, value] pairs, so that a failure names the header.
    const pair = (q: ReceivedRequest, name: string): [string, string | undefined] => [name, q.headers[name]];
    for (const h of webhookHeaderSpec) {
      const name = h.name.toLowerCase();
      if (h.changes === 'attempt') {
        expect(pair(retry, name)).not.toEqual(pair(first, name));
      } else {
        expect(pair(retry, name)).toEqual(pair(first, name));
      }
    }
    expect(retry.headers['x-webhook-attempt']).toBe('2');
    expect(retry.body).toBe(first.body);
  });
});
