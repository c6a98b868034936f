import { describe, expect, it } from '@jest/globals';
import { OutageProbe, type ProbeResult } from '../../../src/consumer/outage-probe.js';
import { Outages } from '../../../src/consumer/outages.js';
import { createLogger } from '../../../src/logger.js';
import { manualClock } from '../../support/manual-clock.js';

const INTERVAL = 1_000;

/** A probe whose answer the test sets; counts its calls. */
function setup(answer: ProbeResult | 'throw' = { ok: false, message: 'refused' }) {
  const clock = manualClock();
  const outages = new Outages();
  const changes: boolean[] = [];
  outages.onChange((down) => changes.push(down));
  const state = { answer, calls: 0 };
  const probe = new OutageProbe({
    dependency: 'schema_registry',
    outages,
    probe: async () => {
      state.calls++;
      if (state.answer === 'throw') throw new Error('ECONNREFUSED');
      return state.answer;
    },
    intervalMs: INTERVAL,
    clock,
    logger: createLogger('silent'),
  });
  return { clock, outages, changes, state, probe };
}

describe('OutageProbe', () => {
  it('declares an outage when the probe fails too, and ends it by probing, with no request needing it', async () => {
    const { clock, outages, changes, state, probe } = setup();
    expect(await probe.reportFailure()).toBe('outage');
    expect(outages.list()).toEqual(['schema_registry']);
    expect(state.calls).toBe(1);

    // Down: one probe per interval, nothing more, the outage stays.
    await clock.advance(INTERVAL - 1);
    expect(state.calls).toBe(1);
    await clock.advance(1);
    expect(state.calls).toBe(2);
    state.answer = 'throw'; // a network error is "down" as well
    await clock.advance(INTERVAL);
    expect(state.calls).toBe(3);
    expect(outages.any).toBe(true);

    // Back: the next probe ends the outage, and probing stops.
    state.answer = { ok: true };
    await clock.advance(INTERVAL);
    expect(state.calls).toBe(4);
    expect(outages.any).toBe(false);
    expect(changes).toEqual([true, false]);
    await clock.advance(10 * INTERVAL);
    expect(state.calls).toBe(4);
    expect(clock.sleeping).toBe(0);
  });

  it('while the outage is declared, more failures cost no request and start no second probe loop', async () => {
    const { clock, state, probe } = setup();
    const scopes = await Promise.all([probe.reportFailure(), probe.reportFailure(), probe.reportFailure()]);
    expect(scopes).toEqual(['outage', 'outage', 'outage']);
    expect(state.calls).toBe(1); // concurrent reports share one probe
    expect(await probe.reportFailure()).toBe('outage');
    expect(state.calls).toBe(1);
    await clock.advance(INTERVAL);
    expect(state.calls).toBe(2);
    expect(clock.sleeping).toBe(1);
  });

  it('a failure while the dependency answers its probe is scoped: no outage, no probing', async () => {
    const { clock, outages, changes, state, probe } = setup({ ok: true });
    expect(await probe.reportFailure()).toBe('scoped');
    expect(outages.any).toBe(false);
    expect(changes).toEqual([]);
    await clock.advance(10 * INTERVAL);
    expect(state.calls).toBe(1);
  });

  it('can be declared again after it ended', async () => {
    const { clock, outages, state, probe } = setup();
    await probe.reportFailure();
    state.answer = { ok: true };
    await clock.advance(INTERVAL);
    expect(outages.any).toBe(false);
    state.answer = { ok: false, message: 'HTTP 503' };
    expect(await probe.reportFailure()).toBe('outage');
    await clock.advance(INTERVAL);
    expect(state.calls).toBe(4);
    expect(outages.any).toBe(true);
    state.answer = { ok: true };
    await clock.advance(INTERVAL);
    expect(outages.any).toBe(false);
  });

  it('stop ends the probing; the declared outage stays declared', async () => {
    const { clock, outages, state, probe } = setup();
    await probe.reportFailure();
    probe.stop();
    await clock.advance(10 * INTERVAL);
    expect(state.calls).toBe(1);
    expect(outages.any).toBe(true);
    expect(clock.sleeping).toBe(0);
  });
});
