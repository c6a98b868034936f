import { describe, expect, it } from '@jest/globals';
import { readinessOf, type ReadinessInputs } from '../../../src/http/readiness.js';

const SESSION = 30_000;
const healthy: ReadinessInputs = {
  joined: true,
  groupContactAgeMs: 2_000,
  sessionTimeoutMs: SESSION,
  subscriptions: 'fresh',
  outages: [],
};

describe('readinessOf', () => {
  it('ready: joined, a heartbeat answered within the session timeout, subscriptions loaded, no outage', () => {
    expect(readinessOf(healthy)).toEqual({
      ready: true,
      detail: { joined: true, lastGroupContactMsAgo: 2_000, subscriptions: 'fresh', outages: [] },
    });
    // Degraded or stale-but-usable snapshots still serve; only "never loaded" is not ready.
    expect(readinessOf({ ...healthy, subscriptions: 'degraded' }).ready).toBe(true);
    expect(readinessOf({ ...healthy, groupContactAgeMs: SESSION }).ready).toBe(true);
  });

  it('not ready once no heartbeat was answered for longer than the session timeout, although kafkajs still counts as joined', () => {
    const r = readinessOf({ ...healthy, groupContactAgeMs: SESSION + 1 });
    expect(r.ready).toBe(false);
    expect(r.detail.joined).toBe(false);
    expect(r.detail.reasons).toEqual([expect.stringMatching(/no heartbeat .* session timeout \(30000 ms\)/)]);
  });

  it('not ready before the first join, after a crash or stop (joined false), whatever the last contact', () => {
    const never = readinessOf({ ...healthy, joined: false, groupContactAgeMs: Infinity });
    expect(never.ready).toBe(false);
    expect(never.detail.lastGroupContactMsAgo).toBeNull();
    expect(readinessOf({ ...healthy, joined: false, groupContactAgeMs: 0 }).ready).toBe(false);
  });

  it('not ready while paused for an outage of our own dependencies, or without subscriptions', () => {
    const r = readinessOf({ ...healthy, outages: ['schema_registry', 'subscriptions'] });
    expect(r.ready).toBe(false);
    expect(r.detail.reasons).toEqual(['paused: schema_registry outage', 'paused: subscriptions outage']);
    expect(readinessOf({ ...healthy, subscriptions: 'unavailable' }).detail.reasons).toEqual([
      'subscriptions not loaded',
    ]);
  });
});
