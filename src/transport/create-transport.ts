/** The one entry point app.ts needs: pick the transport named by HTTP_CLIENT. */
import type { TransportOptions, WebhookTransport } from './types.js';
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
