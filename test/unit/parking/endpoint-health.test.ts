import { describe, expect, it } from '@jest/globals';
import { mergeSeen } from '../../../src/parking/endpoint-health.js';

const seen = (lastSuccess: number | null, failingSince: number | null, lastFailure: number | null) => ({
  lastSuccess,
  failingSince,
  lastFailure,
});

describe('mergeSeen (a buffer kept after a failed flush, merged with what was recorded since)', () => {
  it('a failing run goes on across both when the newer one has no success', () => {
    expect(mergeSeen(seen(null, 10, 20), seen(null, 30, 40))).toEqual(seen(null, 10, 40));
    expect(mergeSeen(seen(5, null, null), seen(null, 30, 40))).toEqual(seen(5, 30, 40));
  });

  it('a success in the newer one ends the older run', () => {
    expect(mergeSeen(seen(null, 10, 20), seen(25, 30, 40))).toEqual(seen(25, 30, 40));
    expect(mergeSeen(seen(null, 10, 20), seen(25, null, null))).toEqual(seen(25, null, 20));
  });

  it('an older run with no newer failure stays', () => {
    expect(mergeSeen(seen(1, 10, 20), seen(null, null, null))).toEqual(seen(1, 10, 20));
  });
});
