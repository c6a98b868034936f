/**
 * What a transport keeps of a response: status and headers. The body is not used (the status decides),
 * but a keep-alive connection can only be reused once its body has been read to the end. So: read and drop up to a small cap, which keeps the socket for the
 * common short answer, and past the cap destroy the stream, which closes that one socket instead of
 * buffering or draining an endless body.
 */
import type { Readable } from 'node:stream';

/** Resolves when the body ended or was cut at `maxBytes`; rejects with the stream's error (e.g. a timeout). */
export async function discardBody(body: Readable, maxBytes: number): Promise<void> {
  let seen = 0;
  for await (const chunk of body) {
    seen += (chunk as Buffer | string).length;
    if (seen > maxBytes) {
      body.destroy();
      return;
    }
  }
}

/** Lower-case names; repeated headers joined as HTTP allows (set-cookie aside, which nobody reads here). */
export function flattenHeaders(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) {
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** undici's raw response headers ([name, value, name, value...] as Buffers) as lower-case names; repeats joined. */
export function rawHeadersToObject(raw: readonly (Buffer | string)[]): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1').toLowerCase();
    const value = raw[i + 1]!.toString('latin1');
    const prior = out[name];
    out[name] = prior === undefined ? value : `${prior}, ${value}`;
  }
  return out;
}
