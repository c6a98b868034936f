/**
 * The whole SSRF corpus (test/support/ssrf-corpus.ts) through both real transports, against a receiver
 * listening on 127.0.0.1 and [::1] that counts what reaches it. Every target is aimed at the receiver's
 * port: the loopback forms (decimal, hex, octal, short, unspecified, IPv4-mapped...) then reach it for
 * real unless the guard refuses them, and every hostname resolves to 127.0.0.1.
 *
 * - Without an allow-list, each target is refused with its code and the receiver counts 0 requests.
 * - With loopback allow-listed, the forms listed in REACHABLE do reach it (one request each): that is
 *   what makes their "0 requests" above a proof. The others are refused for what they are, not where
 *   they point (scheme, userinfo, unparseable), or point outside this machine.
 * - A test-only net guard refuses any connection to a non-loopback address (counted, must be 0), so a
 *   regression of the target guard fails here without sending a packet off the machine.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { createTransport, type TransportName } from '../../src/transport/create-transport.js';
import type { LookupFn, WebhookTransport } from '../../src/transport/types.js';
import { HOSTILE_TARGETS } from '../support/ssrf-corpus.js';

/** The corpus entries (by their "why") that reach the receiver here once loopback is allow-listed. */
const REACHABLE = [
  'loopback',
  'decimal loopback',
  'hex loopback',
  'hex short loopback',
  'octal loopback',
  'short loopback',
  'octal 32-bit loopback',
  'unspecified',
  'unspecified, short',
  'IPv6 loopback',
  'IPv6 unspecified',
  'IPv4-mapped loopback',
  'IPv4-mapped loopback, hex',
];
const LOOPBACK_ALLOW = ['127.0.0.0/8', '0.0.0.0/32', '::1/128', '::/128', '::ffff:127.0.0.0/104'];

let requests = 0;
const servers: http.Server[] = [];
let port = 0;

/** Destinations of connections the net guard below refused (non-loopback addresses). */
const blocked: string[] = [];
const realConnect = net.Socket.prototype.connect;

function isLoopbackLiteral(host: string): boolean {
  return (
    /^127\./.test(host) ||
    host === '0.0.0.0' ||
    host === '::1' ||
    host === '::' ||
    /^::ffff:127\./i.test(host) ||
    /^::ffff:7f/i.test(host)
  );
}

beforeAll(async () => {
  // Connections to an IP literal that is not loopback are refused before any packet is sent.
  net.Socket.prototype.connect = function guardedConnect(this: net.Socket, ...args: unknown[]) {
    const first = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
    const host =
      typeof first === 'object' && first !== null
        ? String((first as { host?: unknown }).host ?? 'localhost')
        : String(args[1] ?? 'localhost');
    if (net.isIP(host.replace(/^\[|\]$/g, '')) !== 0 && !isLoopbackLiteral(host.replace(/^\[|\]$/g, ''))) {
      blocked.push(host);
      process.nextTick(() => this.destroy(new Error(`test net guard: no connection to ${host}`)));
      return this;
    }
    return (realConnect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof net.Socket.prototype.connect;

  const handler: http.RequestListener = (req, res) => {
    requests++;
    req.resume();
    req.on('end', () => res.writeHead(200, { connection: 'close' }).end());
  };
  const v4 = http.createServer(handler);
  servers.push(v4);
  await new Promise<void>((resolve) => v4.listen(0, '127.0.0.1', resolve));
  port = (v4.address() as AddressInfo).port;
  const v6 = http.createServer(handler);
  servers.push(v6);
  await new Promise<void>((resolve, reject) => {
    v6.once('error', reject);
    v6.listen(port, '::1', resolve);
  });
});

afterAll(async () => {
  net.Socket.prototype.connect = realConnect;
  await Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => resolve());
        }),
    ),
  );
});

/** Every hostname resolves to the receiver. */
const toReceiver: LookupFn = (_hostname, _options, callback) =>
  setImmediate(() => callback(null, [{ address: '127.0.0.1', family: 4 }]));

/** The corpus URL aimed at the receiver's port (left as it is when it does not parse). */
function aimed(url: string): string {
  try {
    const u = new URL(url);
    if (u.host === '') return url;
    u.port = String(port);
    return u.toString();
  } catch {
    return url;
  }
}

const webhook = { 'content-type': 'application/json' };

describe.each<[TransportName]>([['undici'], ['got']])('the SSRF corpus through the %s transport', (name) => {
  async function sendAll(allowCidrs: string[]): Promise<Map<string, { code: string; reached: number }>> {
    const out = new Map<string, { code: string; reached: number }>();
    for (const [url, , why] of HOSTILE_TARGETS) {
      const t: WebhookTransport = createTransport(name, {
        timeoutMs: 1_000,
        connectionsPerOrigin: 1,
        maxResponseBytes: 1024,
        allowCidrs,
        lookup: toReceiver,
      });
      const before = requests;
      try {
        const result = await t.send({ url: aimed(url), headers: webhook, body: '{}' });
        out.set(why, {
          code: result.kind === 'error' ? result.code : `HTTP ${result.status}`,
          reached: requests - before,
        });
      } finally {
        await t.destroy();
      }
    }
    return out;
  }

  it('refuses every target of the corpus with its code, and the receiver gets nothing', async () => {
    const blockedBefore = blocked.length;
    const before = requests;
    const results = await sendAll([]);
    expect(requests - before).toBe(0);
    expect(blocked.slice(blockedBefore)).toEqual([]);
    expect(HOSTILE_TARGETS.length).toBeGreaterThanOrEqual(30);
    for (const [url, code, why] of HOSTILE_TARGETS) {
      expect({ url, why, ...results.get(why) }).toEqual({ url, why, code, reached: 0 });
    }
  });

  it('the receiver would see the loopback forms if the guard let them through', async () => {
    const results = await sendAll(LOOPBACK_ALLOW);
    const reached = [...results].filter(([, r]) => r.reached > 0).map(([why]) => why);
    expect(reached).toEqual(REACHABLE);
    for (const why of REACHABLE) {
      expect({ why, ...results.get(why) }).toEqual({ why, code: 'HTTP 200', reached: 1 });
    }
  });
});
