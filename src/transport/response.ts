/**
 * What a transport keeps of a response: status and headers. The body is not used (the status decides),
 * but a keep-alive connection can only be reused once its body has been read to the end. So: read and drop up to a small cap, which keeps the socket for the
 * common short answer, and past the cap destroy the stream, which closes that one socket instead of
 * buffering or draining an endless body. When asked, the first 4 KiB are kept as an excerpt (the delivery
 * log's response excerpt).
 */
import type { Readable } from 'node:stream';
import { EXCERPT_MAX_BYTES, type ResponseExcerpt } from './types.js';

/**
 * Resolves when the body ended or was cut at `maxBytes`; rejects with the stream's error (e.g. a timeout).
 * With an `excerpt`, the body's first bytes are also copied into it (reading goes on past them as without).
 */
export async function discardBody(body: Readable, maxBytes: number, excerpt?: Excerpt): Promise<void> {
  let seen = 0;
  for await (const chunk of body) {
    const bytes = chunk as Buffer | string;
    excerpt?.add(typeof bytes === 'string' ? Buffer.from(bytes) : bytes);
    seen += bytes.length;
    if (seen > maxBytes) {
      body.destroy();
      return;
    }
  }
}

const EMPTY = Buffer.alloc(0);

/** Copies the first `limit` bytes of a body arriving in chunks; chunks past the limit cost nothing. */
export class Excerpt {
  private readonly parts: Buffer[] = [];
  private size = 0;

  constructor(private readonly limit: number = EXCERPT_MAX_BYTES) {}

  add(chunk: Buffer): void {
    const room = this.limit - this.size;
    if (room <= 0 || chunk.length === 0) return;
    // A copy: undici may reuse a chunk's memory once the handler returns.
    const part = Buffer.from(chunk.subarray(0, room));
    this.parts.push(part);
    this.size += part.length;
  }

  bytes(): Buffer {
    if (this.parts.length === 0) return EMPTY;
    return this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.size);
  }
}

/** Whether an answer with `status` gets an excerpt under `mode`. */
export function wantsExcerpt(mode: ResponseExcerpt | undefined, status: number): boolean {
  return mode === 'all' || (mode === 'failures' && (status < 200 || status > 299));
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
