/** The ops HTTP server: /metrics (Prometheus text), /healthz (process alive), /readyz (ready to work). */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface OpsServer {
  readonly server: Server;
  listen(host: string, port: number): Promise<number>;
  close(): Promise<void>;
}

export function createOpsServer(o: {
  registry: Registry;
  readiness: () => { ready: boolean; detail: Record<string, unknown> };
  /** False once the process can no longer work (kafkajs gave up): /healthz answers 503 so it is restarted. */
  alive?: () => boolean;
  /** Brings gauges that are read, not pushed (readiness, snapshot age), up to date before a scrape. */
  beforeScrape?: () => void;
}): OpsServer {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      o.beforeScrape?.();
      o.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': o.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err)),
      );
      return;
    }
    if (path === '/healthz') {
      const alive = o.alive?.() ?? true;
      res
        .writeHead(alive ? 200 : 503, { 'content-type': 'application/json' })
        .end(alive ? '{"status":"ok"}' : '{"status":"fatal"}');
      return;
    }
    if (path === '/readyz') {
      const r = o.readiness();
      res
        .writeHead(r.ready ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ ready: r.ready, ...r.detail }));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  server.keepAliveTimeout = 65_000;
  return {
    server,
    listen: (host, port) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
      }),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
