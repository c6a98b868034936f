/**
 * The transport only reports what happened: a status and headers, or a network error code.
 * `delivery/` decides what that means (delivered, retryable, permanent).
 */
export interface WebhookRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  /** The exact bytes that were signed (a string is sent as UTF-8). */
  readonly body: string | Buffer;
}

export type TransportResult =
  | {
      readonly kind: 'response';
      readonly status: number;
      /**
       * Lower-case header names. The undici transport decodes them only for non-2xx answers (the only
       * ones whose headers are read: Retry-After) and gives an empty object for a 2xx.
       */
      readonly headers: Readonly<Record<string, string | undefined>>;
      readonly durationMs: number;
      /**
       * The body's first bytes (at most EXCERPT_MAX_BYTES), only when `responseExcerpt` asks for this
       * answer's (the delivery log) and the body had any; undefined otherwise.
       */
      readonly excerpt?: Buffer;
    }
  | {
      readonly kind: 'error';
      /** 'TIMEOUT', 'TARGET_FORBIDDEN', 'INVALID_URL', or a Node/undici/got code such as 'ECONNREFUSED'. */
      readonly code: string;
      readonly message: string;
      readonly durationMs: number;
    };

export interface WebhookTransport {
  readonly name: 'undici' | 'got';
  send(request: WebhookRequest): Promise<TransportResult>;
  /** Waits for requests in flight (each bounded by the attempt timeout), then closes connections. */
  close(): Promise<void>;
  /** Ends requests in flight at once (they report an error) and closes connections: shutdown after the drain budget. */
  destroy(): Promise<void>;
}

export interface TransportOptions {
  /** Per-attempt budget for connect + response headers + body. */
  readonly timeoutMs: number;
  readonly connectionsPerOrigin: number;
  readonly maxResponseBytes: number;
  /** CIDRs that may be reached although not public (loopback/private...). */
  readonly allowCidrs: readonly string[];
  /** Called once per refused target (for the SSRF counter). */
  readonly onRefused?: (reason: string) => void;
  /** DNS lookup, injectable for tests; defaults to node:dns lookup. */
  readonly lookup?: LookupFn;
  /**
   * Extra trusted CA certificates (PEM), on top of Node's bundled roots: receivers behind a private CA
   * (on-premise), and tests. When set, certificates added by NODE_EXTRA_CA_CERTS are not used.
   */
  readonly extraCaCerts?: readonly string[];
  /**
   * Keep the first EXCERPT_MAX_BYTES of response bodies (`excerpt`): of every answer (`all`), of non-2xx
   * answers only (`failures`), or none (`off`, the default: nothing is copied).
   */
  readonly responseExcerpt?: ResponseExcerpt;
}

export type ResponseExcerpt = 'off' | 'all' | 'failures';

/** The most of a response body a transport keeps (4 KiB, what the delivery log stores). */
export const EXCERPT_MAX_BYTES = 4_096;

export type LookupFn = (
  hostname: string,
  options: { all: true },
  callback: (err: NodeJS.ErrnoException | null, addresses: { address: string; family: number }[]) => void,
) => void;
