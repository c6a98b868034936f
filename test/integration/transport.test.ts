/**
 * Both transports against real receivers on 127.0.0.1, port 0. The receivers script their answers
 * (status, hang, slow or endless body) and record what reached them, which is what a test asserts on.
 * Past 300 lines on purpose: one list of behaviours that both transports must share, kept in one place
 * so that a difference between them shows up as a failure here.
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { createTransport, type TransportName } from '../../src/transport/create-transport.js';
import type { LookupFn, TransportOptions, WebhookTransport } from '../../src/transport/types.js';

interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

interface Receiver {
  readonly url: string;
  readonly port: number;
  readonly received: Received[];
  /** TCP connections accepted, to see keep-alive at work. */
  connections: number;
}

type Answer = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void;

const servers: net.Server[] = [];
const transports: WebhookTransport[] = [];

afterEach(async () => {
  await Promise.all(transports.splice(0).map((t) => t.close()));
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s instanceof http.Server || s instanceof https.Server) s.closeAllConnections();
          s.close(() => resolve());
        }),
    ),
  );
});

async function listen(server: net.Server, host = '127.0.0.1', port = 0): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return (server.address() as AddressInfo).port;
}

async function startReceiver(answer: Answer, host = '127.0.0.1', wantedPort = 0): Promise<Receiver> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      answer(req, res, body);
    });
  });
  const port = await listen(server, host, wantedPort);
  const receiver: Receiver = { url: `http://${host}:${port}`, port, received, connections: 0 };
  server.on('connection', () => receiver.connections++);
  return receiver;
}

const ok: Answer = (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('thanks');

/** A lookup that answers from a table, and remembers what it was asked. */
function fakeLookup(answers: (hostname: string, call: number) => string): LookupFn & { calls: string[] } {
  const calls: string[] = [];
  const fn: LookupFn = (hostname, _options, callback) => {
    calls.push(hostname);
    const address = answers(hostname, calls.length);
    setImmediate(() => callback(null, [{ address, family: net.isIP(address) }]));
  };
  return Object.assign(fn, { calls });
}

const webhook = { 'content-type': 'application/json', 'x-hub-signature-256': 'sha256=' + 'ab'.repeat(32) };

describe.each<[TransportName]>([['undici'], ['got']])('%s transport', (name) => {
  function transport(options: Partial<TransportOptions> = {}): WebhookTransport {
    const t = createTransport(name, {
      timeoutMs: 2_000,
      connectionsPerOrigin: 4,
      maxResponseBytes: 64 * 1024,
      allowCidrs: ['127.0.0.1/32'],
      ...options,
    });
    transports.push(t);
    return t;
  }

  describe('answers', () => {
    it('POSTs the body (string or Buffer) and headers byte for byte and reports the status', async () => {
      const receiver = await startReceiver((_req, res) =>
        res.writeHead(200, { 'x-receiver': 'seen' }).end('thanks'),
      );
      const body = JSON.stringify({
        hook: { event: 'request.create' },
        payload: { text: 'héllo ✓ \u{1F600}' },
      });
      const headers = {
        ...webhook,
        'user-agent': 'tiledesk-webhooks test',
        'webhook-id': 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W',
        'x-webhook-attempt': '1',
      };

      const result = await transport().send({ url: `${receiver.url}/hooks?project=p1`, headers, body });

      // Response headers of a 2xx are not read by anyone (the undici transport does not decode them).
      expect(result).toMatchObject({ kind: 'response', status: 200 });
      const asBuffer = await transport().send({
        url: `${receiver.url}/hooks?project=p1`,
        headers,
        body: Buffer.from(body, 'utf8'),
      });
      expect(asBuffer).toMatchObject({ kind: 'response', status: 200 });
      expect(receiver.received).toHaveLength(2);
      for (const got of receiver.received) {
        expect(got.method).toBe('POST');
        expect(got.url).toBe('/hooks?project=p1');
        expect(got.body.equals(Buffer.from(body, 'utf8'))).toBe(true);
        expect(got.headers['content-length']).toBe(String(Buffer.byteLength(body)));
        for (const [key, value] of Object.entries(headers)) expect(got.headers[key]).toBe(value);
        expect(got.headers['accept-encoding']).toBeUndefined();
      }
    });

    it('keeps the first bytes of a body when asked (the delivery log), nothing of an empty one', async () => {
      const receiver = await startReceiver((req, res) =>
        req.url === '/empty' ? res.writeHead(200).end() : res.writeHead(200).end('thanks'),
      );
      const excerptOf = async (t: WebhookTransport, path: string): Promise<Buffer | undefined> => {
        const r = await t.send({ url: `${receiver.url}${path}`, headers: webhook, body: '{}' });
        expect(r).toMatchObject({ kind: 'response', status: 200 });
        return r.kind === 'response' ? r.excerpt : undefined;
      };
      const asked = transport({ responseExcerpt: 'all' });
      expect((await excerptOf(asked, '/full'))?.toString()).toBe('thanks');
      expect((await excerptOf(asked, '/empty'))?.length ?? 0).toBe(0);
      expect(await excerptOf(transport(), '/full')).toBeUndefined();
      expect(await excerptOf(transport({ responseExcerpt: 'failures' }), '/full')).toBeUndefined();
    });

    it('surfaces a 503 and its Retry-After', async () => {
      const receiver = await startReceiver((_req, res) =>
        res.writeHead(503, { 'retry-after': '120' }).end('busy'),
      );
      const result = await transport().send({ url: receiver.url, headers: webhook, body: '{}' });
      expect(result).toMatchObject({ kind: 'response', status: 503, headers: { 'retry-after': '120' } });
    });

    it('reports a 301 without following its Location', async () => {
      const elsewhere = await startReceiver(ok);
      const receiver = await startReceiver((_req, res) =>
        res.writeHead(301, { location: `${elsewhere.url}/moved` }).end(),
      );
      const result = await transport().send({ url: receiver.url, headers: webhook, body: '{}' });
      expect(result).toMatchObject({
        kind: 'response',
        status: 301,
        headers: { location: `${elsewhere.url}/moved` },
      });
      expect(elsewhere.received).toHaveLength(0);
    });

    it('does not follow a redirect to the cloud metadata address', async () => {
      const onRefused = jest.fn();
      const receiver = await startReceiver((_req, res) =>
        res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end(),
      );
      const result = await transport({ onRefused }).send({ url: receiver.url, headers: webhook, body: '{}' });
      expect(result).toMatchObject({ kind: 'response', status: 302 });
      expect(onRefused).not.toHaveBeenCalled(); // not even attempted
    });

    it('reads an endless body only up to the cap, and still reports the status', async () => {
      let written = 0;
      let clientGone = false;
      const receiver = await startReceiver((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const chunk = Buffer.alloc(64 * 1024, 120);
        res.on('close', () => (clientGone = true));
        const pump = () => {
          while (!clientGone && written < 1024 ** 3) {
            written += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
        };
        pump();
      });

      const result = await transport({ maxResponseBytes: 16 * 1024 }).send({
        url: receiver.url,
        headers: webhook,
        body: '{}',
      });

      expect(result).toMatchObject({ kind: 'response', status: 200 });
      await waitFor(() => clientGone);
      // Socket buffers let the server get some megabytes ahead; never the gigabyte it offered.
      expect(written).toBeLessThan(64 * 1024 ** 2);
    });

    it('reuses keep-alive connections for sequential requests', async () => {
      const receiver = await startReceiver(ok);
      const t = transport();
      for (let i = 0; i < 20; i++) {
        const result = await t.send({ url: receiver.url, headers: webhook, body: `{"i":${i}}` });
        expect(result).toMatchObject({ kind: 'response', status: 200 });
      }
      expect(receiver.received).toHaveLength(20);
      expect(receiver.connections).toBeLessThanOrEqual(2);
    });

    it('lets an attempt in flight finish when closed', async () => {
      const receiver = await startReceiver((_req, res) => setTimeout(() => res.writeHead(204).end(), 200));
      const t = transport();
      const sending = t.send({ url: receiver.url, headers: webhook, body: '{}' });
      await waitFor(() => receiver.received.length === 1);
      await t.close();
      expect(await sending).toMatchObject({ kind: 'response', status: 204 });
      expect(await t.send({ url: receiver.url, headers: webhook, body: '{}' })).toMatchObject({
        kind: 'error',
        code: 'ABORTED',
      });
    });

    it('connects to the looked-up address but keeps the hostname in Host', async () => {
      const receiver = await startReceiver(ok);
      const lookup = fakeLookup(() => '127.0.0.1');
      const result = await transport({ lookup }).send({
        url: `http://receiver.test:${receiver.port}/`,
        headers: webhook,
        body: '{}',
      });
      expect(result).toMatchObject({ kind: 'response', status: 200 });
      expect(lookup.calls).toEqual(['receiver.test']);
      expect(receiver.received[0]?.headers.host).toBe(`receiver.test:${receiver.port}`);
    });
  });

  describe('network errors', () => {
    it('times out when the receiver never answers', async () => {
      const receiver = await startReceiver(() => undefined);
      const result = await transport({ timeoutMs: 300 }).send({
        url: receiver.url,
        headers: webhook,
        body: '{}',
      });
      expect(result).toMatchObject({ kind: 'error', code: 'TIMEOUT' });
      expect(result.durationMs).toBeGreaterThanOrEqual(250);
      expect(result.durationMs).toBeLessThan(1_500);
    });

    it('times out when the body never finishes', async () => {
      const receiver = await startReceiver((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('partial');
      });
      const result = await transport({ timeoutMs: 300 }).send({
        url: receiver.url,
        headers: webhook,
        body: '{}',
      });
      expect(result).toMatchObject({ kind: 'error', code: 'TIMEOUT' });
      expect(result.durationMs).toBeLessThan(1_500);
    });

    it('reports ECONNREFUSED for a closed port', async () => {
      const port = await freePort();
      const result = await transport().send({
        url: `http://127.0.0.1:${port}/`,
        headers: webhook,
        body: '{}',
      });
      expect(result).toMatchObject({ kind: 'error', code: 'ECONNREFUSED' });
    });

    it('reports ECONNRESET when the receiver drops the connection', async () => {
      const receiver = await startReceiver((req) => req.socket.destroy());
      const result = await transport().send({ url: receiver.url, headers: webhook, body: '{}' });
      expect(result).toMatchObject({ kind: 'error', code: 'ECONNRESET' });
    });

    it('reports ENOTFOUND from the lookup', async () => {
      const lookup: LookupFn = (hostname, _options, callback) =>
        callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
      const result = await transport({ lookup }).send({
        url: 'http://nowhere.test/',
        headers: webhook,
        body: '{}',
      });
      expect(result).toMatchObject({ kind: 'error', code: 'ENOTFOUND' });
    });

    it('never throws and never echoes header values, even for an invalid header', async () => {
      const receiver = await startReceiver(ok);
      const secret = 'whsec_super-secret-value';
      const result = await transport().send({
        url: receiver.url,
        headers: { ...webhook, 'x-hook-secret': `${secret}\r\nx-injected: 1` },
        body: '{}',
      });
      expect(result).toMatchObject({ kind: 'error', code: 'INVALID_REQUEST' });
      expect(JSON.stringify(result)).not.toContain(secret);
      expect(receiver.received).toHaveLength(0);
    });

    it('reports INVALID_URL without throwing', async () => {
      const result = await transport().send({ url: 'http://[::1', headers: webhook, body: '{}' });
      expect(result).toMatchObject({ kind: 'error', code: 'INVALID_URL' });
    });
  });

  describe('target guard', () => {
    it('refuses 127.0.0.1 without the allow-list, and the receiver gets nothing', async () => {
      const onRefused = jest.fn();
      const receiver = await startReceiver(ok);
      const result = await transport({ allowCidrs: [], onRefused }).send({
        url: receiver.url,
        headers: webhook,
        body: '{}',
      });
      expect(result).toMatchObject({ kind: 'error', code: 'TARGET_FORBIDDEN' });
      expect(onRefused).toHaveBeenCalledTimes(1);
      expect(onRefused).toHaveBeenCalledWith('loopback');
      expect(receiver.connections).toBe(0);
    });

    it('refuses a hostname that resolves to 127.0.0.1', async () => {
      const onRefused = jest.fn();
      const receiver = await startReceiver(ok);
      const lookup = fakeLookup(() => '127.0.0.1');
      const result = await transport({ allowCidrs: [], lookup, onRefused }).send({
        url: `http://innocent.example:${receiver.port}/`,
        headers: webhook,
        body: '{}',
      });
      expect(result).toMatchObject({ kind: 'error', code: 'TARGET_FORBIDDEN' });
      expect(lookup.calls).toEqual(['innocent.example']);
      expect(onRefused).toHaveBeenCalledTimes(1);
      expect(receiver.connections).toBe(0);
    });

    it('refuses when any one of several answers is forbidden', async () => {
      const receiver = await startReceiver(ok);
      const lookup: LookupFn = (_hostname, _options, callback) =>
        callback(null, [
          { address: '127.0.0.1', family: 4 },
          { address: '::ffff:169.254.169.254', family: 6 },
        ]);
      const result = await transport({ lookup }).send({
        url: `http://mixed.example:${receiver.port}/`,
        headers: webhook,
        body: '{}',
      });
      expect(result).toMatchObject({ kind: 'error', code: 'TARGET_FORBIDDEN' });
      expect(receiver.connections).toBe(0);
    });

    it('checks the address it connects to, so DNS rebinding cannot reach a forbidden host', async () => {
      // 127.0.0.2 stands in for a public address (allow-listed, and only loopback traffic in tests);
      // it closes each connection so that the second attempt has to connect, hence look up, again.
      const publicReceiver = await startReceiver(
        (_req, res) => res.writeHead(200, { connection: 'close' }).end(),
        '127.0.0.2',
      );
      // 127.0.0.1 on the same port: what the rebinding aims at, reachable through the very same URL.
      const internal = await startReceiver(ok, '127.0.0.1', publicReceiver.port);
      const lookup = fakeLookup((_host, call) => (call === 1 ? '127.0.0.2' : '127.0.0.1'));
      const t = transport({ allowCidrs: ['127.0.0.2/32'], lookup });
      const url = `http://rebind.example:${publicReceiver.port}/`;

      const first = await t.send({ url, headers: webhook, body: '{}' });
      const second = await t.send({ url, headers: webhook, body: '{}' });

      expect(first).toMatchObject({ kind: 'response', status: 200 });
      expect(second).toMatchObject({ kind: 'error', code: 'TARGET_FORBIDDEN' });
      expect(lookup.calls).toHaveLength(2); // one lookup per connection: nothing resolved behind the check
      expect(publicReceiver.received).toHaveLength(1);
      expect(internal.connections).toBe(0);
    });

    it('refuses an IPv4-mapped IPv6 loopback literal', async () => {
      const result = await transport({ allowCidrs: [] }).send({
        url: 'http://[::ffff:127.0.0.1]:9/',
        headers: webhook,
        body: '{}',
      });
      expect(result).toMatchObject({ kind: 'error', code: 'TARGET_FORBIDDEN' });
    });
  });

  describe('TLS', () => {
    // The certificate names receiver.test only, and the socket goes to 127.0.0.1: a success proves the
    // name was verified against the URL's hostname, not the address connected to.
    async function tlsReceiver(servernames: string[]): Promise<number> {
      const server = https.createServer(
        { key: TEST_KEY, cert: TEST_CERT, SNICallback: sniRecorder(servernames) },
        (_req, res) => res.writeHead(200).end('ok'),
      );
      return listen(server);
    }

    it('sends SNI for the hostname and verifies the certificate against it', async () => {
      const servernames: string[] = [];
      const port = await tlsReceiver(servernames);
      const t = transport({ lookup: fakeLookup(() => '127.0.0.1'), extraCaCerts: [TEST_CERT] });
      const result = await t.send({ url: `https://receiver.test:${port}/`, headers: webhook, body: '{}' });
      expect(result).toMatchObject({ kind: 'response', status: 200 });
      expect(servernames).toEqual(['receiver.test']);
    });

    it('refuses a trusted certificate that names another host', async () => {
      const port = await tlsReceiver([]);
      const t = transport({ lookup: fakeLookup(() => '127.0.0.1'), extraCaCerts: [TEST_CERT] });
      const result = await t.send({ url: `https://impostor.test:${port}/`, headers: webhook, body: '{}' });
      expect(result).toMatchObject({ kind: 'error', code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    });

    it('refuses a certificate no trusted CA signed', async () => {
      const port = await tlsReceiver([]);
      const result = await transport({ lookup: fakeLookup(() => '127.0.0.1') }).send({
        url: `https://receiver.test:${port}/`,
        headers: webhook,
        body: '{}',
      });
      expect(result).toMatchObject({ kind: 'error', code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    });
  });
});

function sniRecorder(names: string[]) {
  return (servername: string, callback: (err: Error | null, ctx?: undefined) => void) => {
    names.push(servername);
    callback(null);
  };
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// Self-signed for receiver.test (P-256, valid until 2126), made with:
// openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 36500 \
//   -subj /CN=receiver.test -addext subjectAltName=DNS:receiver.test
const TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgEXikR5IibdC2/blF
YLjLYjwLjMRkqyhO9A8ZGbC+40ehRANCAARyM8cuwCOS7JR8i49hmbgBdK678Rpw
mNWiPGRAW3yqx3K5q8iv2ls6dIDmIqpqg8h4HVb4NqS7kU2t8hnATHcC
-----END PRIVATE KEY-----
`;
const TEST_CERT = `-----BEGIN CERTIFICATE-----
MIIBoTCCAUegAwIBAgIUPAJWDwCFa08folxDulixNailyY8wCgYIKoZIzj0EAwIw
GDEWMBQGA1UEAwwNcmVjZWl2ZXIudGVzdDAgFw0yNjExMjYyMjIxMTBaGA8yMTI2
MTEwMjIyMjExMFowGDEWMBQGA1UEAwwNcmVjZWl2ZXIudGVzdDBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABHIzxy7AI5LslHyLj2GZuAF0rrvxGnCY1aI8ZEBbfKrH
crmryK/aWzp0gOYiqmqDyHgdVvg2pLuRTa3yGcBMdwKjbTBrMB0GA1UdDgQWBBQw
EgH8SRkm576PcdvMvu1ylTofZjAfBgNVHSMEGDAWgBQwEgH8SRkm576PcdvMvu1y
lTofZjAPBgNVHRMBAf8EBTADAQH/MBgGA1UdEQQRMA+CDXJlY2VpdmVyLnRlc3Qw
CgYIKoZIzj0EAwIDSAAwRQIhAIDMp7+dcfgikzWwSoqdeNptYjD/FgwSkqPt3w0N
+iu0AiBYrZ3vvh4pkI9cSj9YVujO6a7y4WSaeew/1aXq2A51Ag==
-----END CERTIFICATE-----
`;
