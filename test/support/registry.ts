/**
 * Schema-registry helpers for integration tests:
 * - `startRegistryProxy`: a TCP proxy on 127.0.0.1 in front of the shared Apicurio, which a test can
 *   switch to refuse connections (port closed: ECONNREFUSED, open sockets reset) and back. This is how a
 *   test takes "the registry" down without stopping the registry other tests share — and without the
 *   in-memory Apicurio restart problem: a restarted instance is empty and hands out content ids again
 *   from 1 in registration order, so ids already written in records would then be unknown or, worse,
 *   name a different schema.
 * - `startScriptedRegistry`: a real HTTP server whose answers the test scripts (status, body, hang),
 *   recording every request, for the answers a real registry does not give on demand (5xx, 401, hang).
 */
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer as createTcpServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { SCHEMA_REGISTRY_URL } from './env.js';

/** The shared registry's Confluent API (test/infra/infra.sh; env.ts applies INFRA_PORT_OFFSET). */
export const SHARED_REGISTRY_URL = SCHEMA_REGISTRY_URL;

export interface RegistryProxy {
  /** The proxied Confluent API base URL (same path as the target's). */
  readonly url: string;
  readonly port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Closes the port (new connections are refused) and resets every open connection. */
  refuse(): Promise<void>;
  /** Listens again on the same port. */
  accept(): Promise<void>;
  close(): Promise<void>;
}

export async function startRegistryProxy(targetUrl: string = SHARED_REGISTRY_URL): Promise<RegistryProxy> {
  const target = new URL(targetUrl);
  const targetPort = Number(target.port || 80);
  const open = new Set<Socket>();
  let connections = 0;
  const server: Server = createTcpServer((client) => {
    connections++;
    const upstream = connect(targetPort, target.hostname);
    open.add(client).add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  const listen = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  const port = await listen(0);
  let listening = true;
  const stopListening = async (): Promise<void> => {
    if (!listening) return;
    listening = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of open) s.destroy();
    open.clear();
    await closed;
  };
  return {
    url: `http://127.0.0.1:${port}${target.pathname.replace(/\/+$/, '')}`,
    port,
    get connections() {
      return connections;
    },
    refuse: stopListening,
    async accept() {
      if (listening) return;
      await listen(port);
      listening = true;
    },
    close: stopListening,
  };
}

export interface ScriptedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** What the scripted registry answers; `hang` accepts the request and never answers. */
export type ScriptedAnswer = { status: number; body?: unknown; contentType?: string } | 'hang';

export interface ScriptedRegistry {
  readonly url: string;
  readonly requests: ScriptedRequest[];
  /** Requests for GET /schemas/ids/{id}, as ids in arrival order. */
  schemaLookups(): number[];
  close(): Promise<void>;
}

export async function startScriptedRegistry(
  answer: (req: ScriptedRequest) => ScriptedAnswer,
): Promise<ScriptedRegistry> {
  const requests: ScriptedRequest[] = [];
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: ScriptedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(r);
      const a = answer(r);
      if (a === 'hang') return;
      const text = a.body === undefined ? '' : typeof a.body === 'string' ? a.body : JSON.stringify(a.body);
      res.writeHead(a.status, { 'content-type': a.contentType ?? 'application/vnd.schemaregistry.v1+json' });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    schemaLookups: () =>
      requests.flatMap((r) => {
        const m = /^\/schemas\/ids\/(\d+)/.exec(r.url);
        return r.method === 'GET' && m ? [Number(m[1])] : [];
      }),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Confluent's answer body for GET /schemas/ids/{id} of an Avro schema. */
export const schemaAnswer = (avsc: unknown): { status: number; body: unknown } => ({
  status: 200,
  body: { schema: JSON.stringify(avsc) },
});

/** Confluent's "schema not found". */
export const schemaNotFound = (id: number): { status: number; body: unknown } => ({
  status: 404,
  body: { error_code: 40403, message: `Schema ${id} not found.` },
});
