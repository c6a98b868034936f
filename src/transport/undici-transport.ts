/**
 * Default transport: one undici Agent (a keep-alive Pool per origin, `connectionsPerOrigin` sockets each).
 *
 * The guard sits in the Agent's connector, so it runs for every new socket, on the address the socket
 * connects to: hostnames go through the guarded lookup handed to net.connect, IP literals are checked
 * before connecting. The URL's host stays the `host` given to undici's own connector, which is what it
 * derives SNI and certificate verification from, so TLS is checked against the hostname, not the IP.
 *
 * undici never follows redirects unless a redirect interceptor is installed, so a 3xx comes back as a
 * response like any other.
 *
 * Requests go through undici's dispatch API with a small handler (AttemptHandler) rather than
 * `request()`: the status decides, the body is only counted and dropped (its first 4 KiB copied when the
 * delivery log asks for an excerpt), so there is no response stream,
 * no AbortController and no timer per attempt (a shared FIFO of deadlines, see deadlines.ts), and response
 * headers are decoded only when something may read them (non-2xx: Retry-After).
 */
import { Agent, buildConnector } from 'undici';
import type { TransportOptions, TransportResult, WebhookRequest, WebhookTransport } from './types.js';
import { parseAllowList, memoCheckUrl } from './target-guard.js';
import { checkLiteralHost, createGuardedLookup, defaultLookup } from './guarded-lookup.js';
import { Deadlines, type DeadlineEntry } from './deadlines.js';
import { Excerpt, rawHeadersToObject, wantsExcerpt } from './response.js';
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

  const deadlines = new Deadlines(timeoutMs);

  function send(request: WebhookRequest): Promise<TransportResult> {
    const started = performance.now();
    const target = checkTarget(request.url);
    if (!target.ok) {
      return Promise.resolve(
        refusalResult(target.code, target.reason, Math.round(performance.now() - started), options.onRefused),
      );
    }
    return new Promise<TransportResult>((resolve) => {
      const handler = new AttemptHandler(request, started, maxResponseBytes, deadlines, options, resolve);
      deadlines.arm(handler);
      agent.dispatch(
        {
          origin: target.url.origin,
          path: target.pathAndQuery,
          method: 'POST',
          headers: request.headers,
          body: request.body,
        },
        handler,
      );
    });
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

const EMPTY_HEADERS: Readonly<Record<string, string | undefined>> = Object.freeze({});

type DispatchHandler = Parameters<Agent['dispatch']>[1];

/**
 * One attempt, as an undici dispatch handler (the callback API undici's own request() is built on) and a
 * deadline entry. Settles exactly once: with the response once its body ended (or was cut at the cap, which
 * closes that socket), with an error, or with TIMEOUT when the deadline passes first (which aborts the
 * request, or aborts it as soon as undici hands it a socket if it is still queued).
 */
class AttemptHandler implements DispatchHandler, DeadlineEntry {
  dlPrev: DeadlineEntry | null = null;
  dlNext: DeadlineEntry | null = null;
  dlDue = 0;
  dlArmed = false;
  private abortFn: ((err?: Error) => void) | null = null;
  private settled = false;
  private status = 0;
  private rawHeaders: Buffer[] | null = null;
  private received = 0;
  /** Whether this answer's body is to be excerpted (decided by its status); the Excerpt made at its first byte. */
  private excerpting = false;
  private excerpt: Excerpt | undefined = undefined;

  constructor(
    private readonly request: WebhookRequest,
    private readonly started: number,
    private readonly maxResponseBytes: number,
    private readonly deadlines: Deadlines,
    private readonly options: TransportOptions,
    private readonly resolve: (r: TransportResult) => void,
  ) {}

  onConnect(abort: (err?: Error) => void): void {
    if (this.settled) {
      abort(new AttemptTimeoutError(this.options.timeoutMs));
      return;
    }
    this.abortFn = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    this.status = statusCode;
    if (statusCode < 200 || statusCode > 299) this.rawHeaders = rawHeaders;
    this.excerpting = wantsExcerpt(this.options.responseExcerpt, statusCode);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.excerpting) (this.excerpt ??= new Excerpt()).add(chunk);
    this.received += chunk.length;
    if (this.received > this.maxResponseBytes && !this.settled) {
      // Enough of an endless or huge body: report the status, drop this one socket.
      this.respond();
      this.abortFn?.(new Error('response body over the cap'));
      return false;
    }
    return true;
  }

  onComplete(): void {
    this.respond();
  }

  onError(err: Error): void {
    if (this.settled) return;
    this.settle(failureResult(err, this.elapsed(), this.request.headers, this.options.onRefused));
  }

  onDeadline(): void {
    if (this.settled) return;
    const err = new AttemptTimeoutError(this.options.timeoutMs);
    this.settle(failureResult(err, this.elapsed(), this.request.headers, this.options.onRefused));
    this.abortFn?.(err);
  }

  private respond(): void {
    if (this.settled) return;
    // One shape whether or not there is an excerpt (none: no body, or not asked for).
    this.settle({
      kind: 'response',
      status: this.status,
      headers: this.rawHeaders === null ? EMPTY_HEADERS : rawHeadersToObject(this.rawHeaders),
      durationMs: this.elapsed(),
      excerpt: this.excerpt?.bytes(),
    });
  }

  private settle(r: TransportResult): void {
    this.settled = true;
    this.deadlines.disarm(this);
    this.resolve(r);
  }

  private elapsed(): number {
    return Math.round(performance.now() - this.started);
  }
}
