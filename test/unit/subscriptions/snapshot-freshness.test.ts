import { describe, expect, it } from '@jest/globals';
import { createLogger } from '../../../src/logger.js';
import {
  SnapshotFreshness,
  type SubscriptionCacheState,
} from '../../../src/subscriptions/snapshot-freshness.js';
import { manualClock } from '../../support/manual-clock.js';

function setup(maxStalenessMs = 10_000) {
  const clock = manualClock();
  const stopping = new AbortController();
  const freshness = new SnapshotFreshness(clock, maxStalenessMs, createLogger('silent'), stopping.signal);
  const states: SubscriptionCacheState[] = [];
  freshness.onStateChange((s) => states.push(s));
  /** Listener up, then the initial full load, then start: the normal start-up. */
  const startHealthy = (): void => {
    freshness.listenerConnected();
    freshness.fullLoadSucceeded(freshness.beginFullLoad());
    freshness.start();
  };
  return { clock, stopping, freshness, states, startHealthy };
}

describe('SnapshotFreshness', () => {
  it('is unavailable until started, fresh with the listener synced, unavailable after stop', () => {
    const { freshness, states, startHealthy } = setup();
    expect(freshness.current).toBe('unavailable');
    expect(freshness.isUsable()).toBe(false);
    expect(freshness.ageMs()).toBe(Infinity);
    startHealthy();
    expect(freshness.current).toBe('fresh');
    expect(freshness.ageMs()).toBe(0);
    freshness.stop();
    expect(states).toEqual(['fresh', 'unavailable']);
  });

  it('degrades when the listener is lost, ages from that moment, and turns stale on time alone', async () => {
    const { clock, freshness, states, startHealthy } = setup(10_000);
    startHealthy();
    await clock.advance(60_000); // healthy for a minute: still age 0
    expect(freshness.ageMs()).toBe(0);
    freshness.listenerLost();
    expect(freshness.current).toBe('degraded');
    await clock.advance(4_000);
    expect(freshness.ageMs()).toBe(4_000);
    expect(freshness.isUsable()).toBe(true);
    await clock.advance(6_001);
    expect(states).toEqual(['fresh', 'degraded', 'stale']);
    expect(freshness.isUsable()).toBe(false);
  });

  it('a full load while the listener is down resets the age but stays degraded', async () => {
    const { clock, freshness, startHealthy } = setup(10_000);
    startHealthy();
    freshness.listenerLost();
    await clock.advance(8_000);
    const ticket = freshness.beginFullLoad();
    await clock.advance(500);
    freshness.fullLoadSucceeded(ticket);
    expect(freshness.current).toBe('degraded');
    expect(freshness.ageMs()).toBe(500);
    await clock.advance(9_000);
    expect(freshness.current).toBe('degraded');
  });

  it('is fresh again only after a full load that began once the listener was back', () => {
    const { freshness, startHealthy } = setup();
    startHealthy();
    freshness.listenerLost();
    const before = freshness.beginFullLoad(); // began while down: cannot vouch for the gap
    freshness.listenerConnected();
    freshness.fullLoadSucceeded(before);
    expect(freshness.current).toBe('degraded');
    freshness.fullLoadSucceeded(freshness.beginFullLoad());
    expect(freshness.current).toBe('fresh');
  });

  it('a failed reload degrades until a full load succeeds', async () => {
    const { clock, freshness, states, startHealthy } = setup(10_000);
    startHealthy();
    freshness.reloadFailed();
    await clock.advance(11_000);
    expect(freshness.current).toBe('stale');
    freshness.fullLoadSucceeded(freshness.beginFullLoad());
    expect(freshness.current).toBe('fresh');
    expect(states).toEqual(['fresh', 'degraded', 'stale', 'fresh']);
  });
});
