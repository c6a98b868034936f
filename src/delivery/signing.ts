/**
 * The three signatures a receiver may verify. Keys: the JWT and both X-Hub-Signature* HMACs use the
 * secret's UTF-8 bytes (as Tiledesk and GitHub do); only Standard Webhooks decodes a `whsec_` secret.
 */
import { createHmac, type KeyObject } from 'node:crypto';

export interface HubSignatures {
  /** `sha1=<hex>` for X-Hub-Signature. */
  readonly sha1: string;
  /** `sha256=<hex>` for X-Hub-Signature-256. */
  readonly sha256: string;
}

/** `secret`: the secret string (its UTF-8 bytes are the key) or a prepared KeyObject of those bytes. */
export function signHub(secret: string | KeyObject, body: string | Buffer): HubSignatures {
  return {
    sha1: `sha1=${createHmac('sha1', secret).update(body).digest('hex')}`,
    sha256: `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
  };
}

/** Standard Webhooks key: the base64 part of a `whsec_` secret, else the secret's UTF-8 bytes. */
export function standardWebhooksKey(secret: string): Buffer {
  if (secret.startsWith('whsec_')) {
    const raw = Buffer.from(secret.slice('whsec_'.length), 'base64');
    if (raw.length > 0) return raw;
  }
  return Buffer.from(secret, 'utf8');
}

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, timestamp in epoch seconds. */
export function signStandardWebhook(
  key: Buffer | KeyObject,
  msgId: string,
  timestampSec: number,
  body: string | Buffer,
): string {
  const mac = createHmac('sha256', key).update(`${msgId}.${timestampSec}.`).update(body).digest('base64');
  return `v1,${mac}`;
}
