/** HS256 JWT (RFC 7519) with node:crypto: synchronous, no dependency, verified in tests with `jose`. */
import { createHmac, type KeyObject } from 'node:crypto';

const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

/** `key`: the secret string (its UTF-8 bytes are the key) or a KeyObject of those bytes. */
export function signJwtHs256(claims: Readonly<Record<string, unknown>>, key: string | KeyObject): string {
  return signJwtHs256Json(JSON.stringify(claims), key);
}

/** The same, from the claims already serialised as JSON. */
export function signJwtHs256Json(claimsJson: string, key: string | KeyObject): string {
  const payload = Buffer.from(claimsJson).toString('base64url');
  const signature = createHmac('sha256', key).update(`${HEADER}.${payload}`).digest('base64url');
  return `${HEADER}.${payload}.${signature}`;
}
