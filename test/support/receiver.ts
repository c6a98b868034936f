/**
 * A real webhook receiver for integration tests: a `node:http` server on 127.0.0.1 that records every
 * request and answers as the test scripts it, request by request.
 *
 *   const r = await startReceiver((_req, n) => (n <= 2 ? { status: 500 } : { status: 200 }));
 *   ... await waitFor(() => r.requests.length === 3);
 *   await r.close();
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the receiver saw it. */
export interface ReceivedRequest {
  /** 1 for the first request this receiver got, 2 for the next, ... */
  n: number;
  method: string;
  /** Path and query, e.g. `/hooks?x=1`. */
  url: string;
  /** Lower-cased names; a repeated header's values joined with ", ". */
  headers: Record<string, string>;
  /** The raw body, decoded as UTF-8. */
  body: string;
  /** `Date.now()` when the request line and headers arrived. */
  receivedAt: number;
}

/** How to answer one request. Every field is optional: `{}` is a 200 with an empty body. */
export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Never answer (the connection stays open until the client gives up or `close()`). */
  hang?: true;
  /** Destroy the connection without answering (the client sees a socket error). */
  destroy?: true;
}

/** The script: called once per request, after its body has been read and it has been recorded. */
export type Answer = (request: ReceivedRequest, n: number) => Reply | Promise<Reply>;

export interface Receiver {
  /** `http://127.0.0.1:<port>`, without a trailing slash; append any path. */
  url: string;
  port: number;
  /** Every request so far, in arrival order (a request is added once its body is complete). */
  requests: ReceivedRequest[];
  /** The current script; may be replaced while the receiver runs. */
  answer: Answer;
  /** Stops listening and destroys every open connection, hung ones included. */
  close(): Promise<void>;
}

const ok: Answer = () => ({ status: 200 });

/** Starts a receiver on 127.0.0.1:`port` (0: any free port) answering with `answer` (default: 200 to everything). */
export async function startReceiver(answer: Answer = ok, port = 0): Promise<Receiver> {
  const timers = new Set<NodeJS.Timeout>();
  const requests: ReceivedRequest[] = [];

  const server = createServer((req, res) => {
    const receivedAt = Date.now();
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: ReceivedRequest = {
        n: requests.length + 1,
        method: req.method ?? '',
        url: req.url ?? '',
        headers: flatHeaders(req),
        body: Buffer.concat(chunks).toString('utf8'),
        receivedAt,
      };
      requests.push(request);
      Promise.resolve()
        .then(() => receiver.answer(request, request.n))
        .then(
          (reply) => respond(req, res, reply),
          (error: unknown) =>
            respond(req, res, { status: 500, body: `receiver script failed: ${String(error)}` }),
        );
    });
  });

  function respond(req: IncomingMessage, res: ServerResponse, reply: Reply): void {
    if (reply.destroy) {
      req.socket.destroy();
      return;
    }
    if (reply.hang) return;
    const send = (): void => {
      if (res.destroyed) return;
      res.writeHead(reply.status ?? 200, reply.headers);
      res.end(reply.body ?? '');
    };
    if (reply.delayMs === undefined || reply.delayMs <= 0) return send();
    const timer = setTimeout(() => {
      timers.delete(timer);
      send();
    }, reply.delayMs);
    timers.add(timer);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actualPort = (server.address() as AddressInfo).port;

  const receiver: Receiver = {
    url: `http://127.0.0.1:${actualPort}`,
    port: actualPort,
    requests,
    answer,
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
  return receiver;
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}
