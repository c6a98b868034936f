/**
 * Alternative transport on got 14 (HTTP_CLIENT=got), with every got convenience that would change the
 * delivery rules switched off: no retries (delivery/ owns them), no redirects, no HTTP errors as
 * exceptions, no decompression (it would add Accept-Encoding), no DNS cache (it would bypass the guard).
 *
 * The guard runs at connect time as in the undici transport: `dnsLookup` is handed to net.connect, and
 * the agents check IP-literal hosts, which never reach a lookup. https.Agent derives SNI and certificate
 * verification from the URL's hostname, untouched here.
 *
 * got is used in stream mode: its promise API buffers the whole body, and the body must be capped.
 */
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import got, { type PlainResponse, type Request as GotRequest } from 'got';
import type { TransportOptions, TransportResult, WebhookRequest, WebhookTransport } from './types.js';
import { memoCheckUrl, parseAllowList, type AllowList } from './target-guard.js';
import { checkLiteralHost, createGuardedLookup, defaultLookup } from './guarded-lookup.js';
import { discardBody, Excerpt, flattenHeaders, wantsExcerpt } from './response.js';
import { trustedCa } from './trusted-ca.js';
import { errorResult, failureResult, refusalResult } from './transport-error.js';

/** Below typical server keep-alive timeouts (Node 5 s), as for undici. */
const FREE_SOCKET_TIMEOUT_MS = 4_000;

type ConnectCallback = (err: Error | null, stream: Duplex) => void;

export function createGotTransport(options: TransportOptions): WebhookTransport {
  const allow = parseAllowList(options.allowCidrs);
  const checkTarget = memoCheckUrl(allow);
  const { timeoutMs, maxResponseBytes } = options;
  const agentOptions: http.AgentOptions = {
    keepAlive: true,
    maxSockets: options.connectionsPerOrigin,
    maxFreeSockets: options.connectionsPerOrigin,
    timeout: FREE_SOCKET_TIMEOUT_MS,
  };
  const agents = {
    http: new GuardedHttpAgent(allow, agentOptions),
    https: new GuardedHttpsAgent(allow, { ...agentOptions, ...trustedCa(options.extraCaCerts) }),
  };

  const client = got.extend({
    agent: agents,
    dnsLookup: createGuardedLookup(allow, options.lookup ?? defaultLookup),
    dnsCache: false,
    retry: { limit: 0 },
    followRedirect: false,
    throwHttpErrors: false,
    decompress: false,
    cache: false,
    http2: false,
    // Each phase bounded, and `request` (start to end of body) is the per-attempt budget.
    timeout: {
      lookup: timeoutMs,
      connect: timeoutMs,
      secureConnect: timeoutMs,
      send: timeoutMs,
      response: timeoutMs,
      read: timeoutMs,
      request: timeoutMs,
    },
  });

  // undici's Agent.close() waits for in-flight requests; Node's agents only know how to destroy sockets,
  // so close() waits for the attempts itself (each bounded by timeoutMs) before destroying them.
  const inFlight = new Set<Promise<TransportResult>>();
  const streams = new Set<GotRequest>();
  let closing: Promise<void> | undefined;

  function send(request: WebhookRequest): Promise<TransportResult> {
    if (closing !== undefined) return Promise.resolve(errorResult('ABORTED', 'transport is closed', 0));
    const attempt = sendOnce(request);
    inFlight.add(attempt);
    void attempt.finally(() => inFlight.delete(attempt));
    return attempt;
  }

  async function sendOnce(request: WebhookRequest): Promise<TransportResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const target = checkTarget(request.url);
    if (!target.ok) return refusalResult(target.code, target.reason, elapsed(), options.onRefused);

    let stream: GotRequest | undefined;
    try {
      stream = client.stream.post(target.url, { headers: { ...request.headers }, body: request.body });
      streams.add(stream);
      const response = await responseOf(stream);
      const excerpt = wantsExcerpt(options.responseExcerpt, response.statusCode) ? new Excerpt() : undefined;
      await discardBody(stream, maxResponseBytes, excerpt);
      return {
        kind: 'response',
        status: response.statusCode,
        headers: flattenHeaders(response.headers),
        durationMs: elapsed(),
        ...(excerpt && { excerpt: excerpt.bytes() }),
      };
    } catch (err) {
      stream?.destroy();
      return failureResult(err, elapsed(), request.headers, options.onRefused);
    } finally {
      if (stream) streams.delete(stream);
    }
  }

  async function closeAfterInFlight(): Promise<void> {
    await Promise.allSettled([...inFlight]);
    agents.http.destroy();
    agents.https.destroy();
  }

  return {
    name: 'got',
    send,
    close: () => (closing ??= closeAfterInFlight()),
    destroy: async () => {
      closing ??= Promise.resolve();
      for (const stream of streams) stream.destroy(new Error('transport destroyed'));
      agents.http.destroy();
      agents.https.destroy();
      await Promise.allSettled([...inFlight]);
    },
  };
}

function responseOf(stream: GotRequest): Promise<PlainResponse> {
  return new Promise((resolve, reject) => {
    stream.once('response', resolve);
    stream.once('error', reject);
  });
}

/** Checks IP-literal hosts when the socket is created; hostnames are checked by the guarded lookup. */
class GuardedHttpAgent extends http.Agent {
  constructor(
    private readonly allow: AllowList,
    options: http.AgentOptions,
  ) {
    super(options);
  }

  override createConnection(
    options: http.ClientRequestArgs,
    callback?: ConnectCallback,
  ): Duplex | null | undefined {
    return guardedCreate(this.allow, options, callback, () => super.createConnection(options, callback));
  }
}

class GuardedHttpsAgent extends https.Agent {
  constructor(
    private readonly allow: AllowList,
    options: https.AgentOptions,
  ) {
    super(options);
  }

  override createConnection(
    options: https.RequestOptions,
    callback?: ConnectCallback,
  ): Duplex | null | undefined {
    return guardedCreate(this.allow, options, callback, () => super.createConnection(options, callback));
  }
}

function guardedCreate(
  allow: AllowList,
  options: http.ClientRequestArgs,
  callback: ConnectCallback | undefined,
  create: () => Duplex | null | undefined,
): Duplex | null | undefined {
  try {
    checkLiteralHost(options.host ?? options.hostname, allow);
  } catch (err) {
    // Node's Agent accepts a socket through the callback instead of the return value; an error there
    // fails just this request.
    if (callback === undefined) throw err;
    callback(err as Error, undefined as unknown as Duplex);
    return undefined;
  }
  return create();
}
