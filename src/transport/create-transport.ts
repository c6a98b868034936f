/** The one entry point app.ts needs: pick the transport named by HTTP_CLIENT. */
import type { Config } from '../config.js';
import type { ResponseExcerpt, TransportOptions, WebhookTransport } from './types.js';
import { createUndiciTransport } from './undici-transport.js';
import { createGotTransport } from './got-transport.js';

export type TransportName = WebhookTransport['name'];

/** Throws (ConnectorError CONFIG_INVALID) on a malformed allow-list CIDR; send() itself never throws. */
export function createTransport(name: TransportName, options: TransportOptions): WebhookTransport {
  switch (name) {
    case 'undici':
      return createUndiciTransport(options);
    case 'got':
      return createGotTransport(options);
  }
}

/** The transport configured by HTTP_CLIENT and the delivery settings. */
export function createTransportFromConfig(
  c: Pick<
    Config,
    | 'HTTP_CLIENT'
    | 'DELIVERY_TIMEOUT_MS'
    | 'HTTP_CONNECTIONS_PER_ORIGIN'
    | 'RESPONSE_BODY_MAX_BYTES'
    | 'TARGET_ALLOW_CIDRS'
    | 'DELIVERY_LOG'
  >,
): WebhookTransport {
  return createTransport(c.HTTP_CLIENT as TransportName, {
    timeoutMs: c.DELIVERY_TIMEOUT_MS,
    connectionsPerOrigin: c.HTTP_CONNECTIONS_PER_ORIGIN,
    maxResponseBytes: c.RESPONSE_BODY_MAX_BYTES,
    allowCidrs: c.TARGET_ALLOW_CIDRS,
    responseExcerpt: excerptModeFor(c.DELIVERY_LOG),
  });
}

/** The delivery log stores the excerpts; `failures` logs only non-2xx attempts, so only theirs are kept. */
export function excerptModeFor(deliveryLog: string): ResponseExcerpt {
  return deliveryLog === 'all' ? 'all' : deliveryLog === 'failures' ? 'failures' : 'off';
}
