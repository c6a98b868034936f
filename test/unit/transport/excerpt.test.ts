import { Readable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { excerptModeFor } from '../../../src/transport/create-transport.js';
import { discardBody, Excerpt, wantsExcerpt } from '../../../src/transport/response.js';
import { EXCERPT_MAX_BYTES } from '../../../src/transport/types.js';

describe('response excerpt', () => {
  it('keeps the first 4 KiB of a body arriving in chunks, nothing past them', () => {
    const e = new Excerpt();
    const body = Buffer.alloc(10_000);
    for (let i = 0; i < body.length; i++) body[i] = i % 251;
    for (let at = 0; at < body.length; at += 1_000) e.add(body.subarray(at, at + 1_000));
    expect(e.bytes().length).toBe(EXCERPT_MAX_BYTES);
    expect(e.bytes().equals(body.subarray(0, EXCERPT_MAX_BYTES))).toBe(true);
  });

  it('keeps a short body whole, an empty one as empty, and copies the chunks', () => {
    const chunk = Buffer.from('hello');
    const e = new Excerpt(4_096);
    e.add(chunk);
    chunk.fill(0);
    expect(e.bytes().toString()).toBe('hello');
    expect(new Excerpt().bytes().length).toBe(0);
  });

  it('is taken for every answer (all), non-2xx ones (failures), none (off)', () => {
    expect([200, 503].map((s) => wantsExcerpt('all', s))).toEqual([true, true]);
    expect([200, 299, 302, 503].map((s) => wantsExcerpt('failures', s))).toEqual([false, false, true, true]);
    expect([wantsExcerpt('off', 500), wantsExcerpt(undefined, 500)]).toEqual([false, false]);
  });

  it('follows DELIVERY_LOG: all → every answer, failures → non-2xx, off → none', () => {
    expect(['all', 'failures', 'off'].map(excerptModeFor)).toEqual(['all', 'failures', 'off']);
  });

  it('discardBody reads on past the excerpt up to its cap (keep-alive), excerpt intact', async () => {
    const chunks = Array.from({ length: 10 }, (_, i) => Buffer.alloc(1_000, 65 + i));
    const stream = Readable.from(chunks);
    const e = new Excerpt();
    await discardBody(stream, 1_000_000, e);
    expect(stream.readableEnded).toBe(true);
    expect(e.bytes().length).toBe(4_096);
    expect(
      e
        .bytes()
        .subarray(4_000)
        .every((b) => b === 69),
    ).toBe(true);
  });
});
