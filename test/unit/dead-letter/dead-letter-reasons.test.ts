import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { deadLetterCode, deadLetterReasonDocs } from '../../../src/dead-letter/dead-letter-reasons.js';
import { classifyAttempt } from '../../../src/delivery/classify.js';
import { ErrorCode } from '../../../src/errors.js';
import { decodeRecord } from '../../../src/events/decode-record.js';
import type { TransportResult } from '../../../src/transport/types.js';

const at = { topic: 't', partition: 0, offset: '7' };

/** The reasons decodeRecord gives for a corpus of poison values (plain JSON, no registry). */
function poisonReasons(): Set<string> {
  const values: (Buffer | null)[] = [
    null,
    Buffer.alloc(2_000, 'x'),
    Buffer.from([0xff, 0xfe, 0x7b]),
    Buffer.from('not json'),
    Buffer.from('{"event":"request.create"}'),
    Buffer.from([0, 0, 0, 0, 1, 2]), // Schema-Registry framed, no registry configured
  ];
  const reasons = new Set<string>();
  for (const v of values) {
    const r = decodeRecord(v, at, { maxRecordBytes: 1_000 });
    if (r instanceof Promise) throw new Error('a plain value decodes synchronously');
    if (!r.ok) reasons.add(r.reason);
  }
  return reasons;
}

/** The reasons that end a delivery: every permanent classification, and retries used up. */
function deliveryReasons(): Set<string> {
  const results: TransportResult[] = [];
  for (let status = 100; status < 600; status++) {
    results.push({ kind: 'response', status, headers: {}, durationMs: 1 });
  }
  for (const code of ['TARGET_FORBIDDEN', 'INVALID_URL', 'INVALID_REQUEST', 'TIMEOUT', 'ECONNREFUSED']) {
    results.push({ kind: 'error', code, message: code, durationMs: 1 });
  }
  // deliver() itself adds these two: retries used up, and a subscription it cannot prepare; the parked
  // runner the last two: a parked delivery whose subscription was deleted or disabled by its health.
  const reasons = new Set<string>([
    'retries_exhausted',
    'subscription_invalid',
    'subscription_deleted',
    'subscription_disabled',
  ]);
  for (const r of results) {
    const outcome = classifyAttempt(r, 0);
    if (outcome.kind === 'permanent') reasons.add(outcome.reason);
  }
  return reasons;
}

describe('dead-letter reasons', () => {
  it('every reason a record or a delivery can be dead-lettered with is in README, with its error code', () => {
    const readme = readFileSync('README.md', 'utf8');
    const reasons = [...poisonReasons(), ...deliveryReasons()].sort();
    expect(reasons).toEqual(expect.arrayContaining(['empty', 'invalid', 'ssrf', 'too_large', 'undecodable']));
    const undocumented = reasons.filter(
      (r) => !new RegExp(`^\\| \`${r}\` \\| \`CONNECTOR_[A-Z_]+\` \\|`, 'm').test(readme),
    );
    expect(undocumented).toEqual([]);
  });

  it('are exactly the reasons of the table the README is generated from, each with its code', () => {
    expect(Object.keys(deadLetterReasonDocs).sort()).toEqual(
      [...poisonReasons(), ...deliveryReasons(), 'unknown_schema'].sort(),
    );
    expect(deadLetterCode('empty')).toBe(ErrorCode.EVENT_UNDECODABLE);
    expect(deadLetterCode('ssrf')).toBe(ErrorCode.TARGET_FORBIDDEN);
    expect(deadLetterCode('http_4xx')).toBe(ErrorCode.DELIVERY_FAILED);
    expect(deadLetterCode('toString')).toBeUndefined();
  });
});
