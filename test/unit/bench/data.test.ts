/**
 * The benchmark's events (bench/lib/data.ts): ~1 KiB, the same for the same number, and text that
 * compresses like a conversation's, not like one repeated letter, since the delivery log's storage cost
 * is measured on them.
 */
import { describe, expect, it } from '@jest/globals';
import { deflateRawSync } from 'node:zlib';
import { benchEvent, benchText, EVENT_BYTES } from '../../../bench/lib/data.js';

describe('bench events', () => {
  it('are ~1 KiB of JSON with the same bytes for the same event number', () => {
    const a = benchEvent('r1', 42, 1_700_000_000_000);
    expect(a.value.length).toBe(EVENT_BYTES);
    const note = (JSON.parse(a.value.toString('utf8')) as { payload: { attributes: { note: string } } })
      .payload.attributes.note;
    expect(note.length).toBeGreaterThan(500);
    expect(note).toBe(benchText(42, note.length));
    expect(benchEvent('r1', 42, 1_700_000_000_000).value.equals(a.value)).toBe(true);
    expect(benchEvent('r1', 43, 1_700_000_000_000).value.equals(a.value)).toBe(false);
  });

  it('texts are exactly as long as asked, words and order numbers', () => {
    for (const n of [0, 1, 17, 700]) expect(benchText(7, n)).toHaveLength(n);
    const words = benchText(7, 5_000).split(' ');
    const numbers = words.filter((w) => /^#\d+$/.test(w)).length;
    expect(numbers / words.length).toBeGreaterThan(0.05);
    expect(numbers / words.length).toBeLessThan(0.25);
    expect(new Set(words).size).toBeGreaterThan(100);
  });

  it('compress like text: no better than 2:1 alone and 5:1 a thousand together', () => {
    const values = Array.from({ length: 1_000 }, (_, i) => benchEvent('r', i, 1_700_000_000_000).value);
    const alone = deflateRawSync(values[500]!, { level: 1 }).length / values[500]!.length;
    const all = Buffer.concat(values);
    const together = deflateRawSync(all, { level: 1 }).length / all.length;
    expect(alone).toBeGreaterThan(1 / 2);
    expect(together).toBeGreaterThan(1 / 5);
  });
});
