/**
 * Default transport: one undici Agent (a keep-alive Pool per origin, `connectionsPerOrigin` sockets each).
 *
 * The guard sits in the Agent's connector, so it runs for every new socket, on the address the socket
 * connects to: hostnames go through the guarded lookup handed to net.connect, IP literals are checked
 * before connecting. The URL's host stays the `host` given to undici's own connector, which is what it
 * derives SNI and certificate verification from, so TLS is checked against the hostname, not the IP.
 *
 * undici's request API never follows redirects unless a redirect interceptor is installed, so a 3xx
 * comes back as a response like any other.
 */
import { Agent, buildConnector } from 'undici';
import type { TransportOptions, TransportResult, WebhookRequest, WebhookTransport } from './types.js';
import { parseAllowList, memoCheckUrl } from './target-guard.js';
import { checkLiteralHost, createGuardedLookup, defaultLookup } from './guarded-lookup.js';
import { discardBody, flattenHeaders } from './response.js';
import { trustedCa } from './trusted-ca.js';
import { AttemptTimeoutError, failureResult, refusalResult } from './transport-error.js';

/** Below typical server keep-alive timeouts (Node 5 s), so we do not reuse a socket the server is closing. */
const KEEP_ALIVE_TIMEOUT_MS = 4_000;

export function createUndiciTransport(options: TransportOptions): WebhookTransport {
  const allow = parseAllowList(options.allowCidrs);
  const checkTarget = memoCheckUrl(allow);
  const { timeoutMs, maxResponseBytes } = options;

  const baseConnector = buildConnector({
    timeout: timeoutMs,
    lookup: createGuardedLookup(allow, options.lookup ?? defaultLookup),
    ...trustedCa(options.extraCaCerts),
  });
  const guardedConnector: buildConnector.connector = (connectOptions, callback) => {
    try {
      checkLiteralHost(connectOptions.hostname, allow);
    } catch (err) {
      callback(err as Error, null);
      return;
    }
    baseConnector(connectOptions, callback);
  };

  const agent = new Agent({
    connect: guardedConnector,
    connections: options.connectionsPerOrigin,
    pipelining: 1,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    keepAliveMaxTimeout: KEEP_ALIVE_TIMEOUT_MS,
  });

  async function send(request: WebhookRequest): Promise<TransportResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const target = checkTarget(request.url);
    if (!target.ok) return refusalResult(target.code, target.reason, elapsed(), options.onRefused);

    // One deadline for the whole attempt (queueing for a socket, connect, headers and body): the
    // per-phase timeouts above only bound each phase.
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new AttemptTimeoutError(timeoutMs)), timeoutMs);
    try {
      const response = await agent.request({
        origin: target.url.origin,
        path: `${target.url.pathname}${target.url.search}`,
        method: 'POST',
        headers: request.headers,
        body: request.body,
        signal: controller.signal,
      });
      await discardBody(response.body, maxResponseBytes);
      return {
        kind: 'response',
        status: response.statusCode,
        headers: flattenHeaders(response.headers),
        durationMs: elapsed(),
      };
    } catch (err) {
      return failureResult(err, elapsed(), request.headers, options.onRefused);
    } finally {
      clearTimeout(timer);
    }
  }

  // Idempotent: undici rejects a second close() (app shutdown paths may both close).
  let closing: Promise<void> | undefined;
  return {
    name: 'undici',
    send,
    close: () => (closing ??= agent.close()),
    destroy: () => (closing = agent.destroy()),
  };
}
