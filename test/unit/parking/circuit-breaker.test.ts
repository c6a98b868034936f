import { describe, expect, it } from '@jest/globals';
import { CircuitBreakers, type CircuitState } from '../../../src/parking/circuit-breaker.js';
import { manualClock, type ManualClock } from '../../support/manual-clock.js';

const WINDOW = 10_000;
const COOLDOWN = 3_000;

function setup(o: { failurePercent?: number; minAttempts?: number } = {}): {
  clock: ManualClock;
  cb: CircuitBreakers;
  transitions: [string, CircuitState][];
} {
  const clock = manualClock(0);
  const transitions: [string, CircuitState][] = [];
  const cb = new CircuitBreakers({
    failurePercent: o.failurePercent ?? 50,
    minAttempts: o.minAttempts ?? 4,
    windowMs: WINDOW,
    cooldownMs: COOLDOWN,
    now: clock.now,
    onTransition: (id, to) => transitions.push([id, to]),
  });
  return { clock, cb, transitions };
}

/** Admits and records one attempt, as a delivery would. */
function attempt(cb: CircuitBreakers, id: string, ok: boolean): void {
  const a = cb.admit(id);
  if (a.kind !== 'attempt') throw new Error(`expected an attempt for ${id}, got ${JSON.stringify(a)}`);
  cb.record(id, ok, a.probe);
}

/** Opens the circuit of `id`: 4 failures, the minimum. */
function open(cb: CircuitBreakers, id: string): void {
  for (let i = 0; i < 4; i++) attempt(cb, id, false);
  expect(cb.state(id)).toBe('open');
}

describe('CircuitBreakers', () => {
  it('admits every attempt of an unknown or healthy subscription, without a probe', () => {
    const { cb } = setup();
    expect(cb.admit('s')).toEqual({ kind: 'attempt', probe: false });
    for (let i = 0; i < 20; i++) attempt(cb, 's', true);
    expect(cb.admit('s')).toEqual({ kind: 'attempt', probe: false });
    expect(cb.state('s')).toBe('closed');
    expect(cb.nonClosed()).toEqual([]);
  });

  it('opens at the failure threshold, not one failure below it', () => {
    const { cb, transitions } = setup({ failurePercent: 50, minAttempts: 4 });
    attempt(cb, 's', true);
    attempt(cb, 's', true);
    attempt(cb, 's', false); // 1 of 3: below minAttempts anyway
    attempt(cb, 's', true); // 1 of 4 = 25 %
    attempt(cb, 's', false); // 2 of 5 = 40 %
    expect(cb.state('s')).toBe('closed');
    attempt(cb, 's', false); // 3 of 6 = 50 %: opens
    expect(cb.state('s')).toBe('open');
    expect(transitions).toEqual([['s', 'open']]);
  });

  it('does not open below minAttempts, even at 100 % failures', () => {
    const { cb } = setup({ failurePercent: 50, minAttempts: 4 });
    for (let i = 0; i < 3; i++) attempt(cb, 's', false);
    expect(cb.state('s')).toBe('closed');
    attempt(cb, 's', false);
    expect(cb.state('s')).toBe('open');
  });

  it('parks deliveries of an open circuit until the cool-down ends', async () => {
    const { clock, cb } = setup();
    open(cb, 's');
    const until = clock.now() + COOLDOWN;
    expect(cb.admit('s')).toEqual({ kind: 'park', untilMs: until });
    await clock.advance(COOLDOWN - 1);
    expect(cb.admit('s')).toEqual({ kind: 'park', untilMs: until });
  });

  it('slides the window: failures older than the window age out', async () => {
    const { clock, cb } = setup({ failurePercent: 50, minAttempts: 4 });
    for (let i = 0; i < 3; i++) attempt(cb, 's', false);
    await clock.advance(WINDOW + 1);
    // The three old failures are gone: one new failure of one attempt is below minAttempts.
    attempt(cb, 's', false);
    expect(cb.state('s')).toBe('closed');
    // Within the window they add up again.
    await clock.advance(WINDOW / 2);
    for (let i = 0; i < 2; i++) attempt(cb, 's', false);
    expect(cb.state('s')).toBe('closed');
    attempt(cb, 's', false);
    expect(cb.state('s')).toBe('open');
  });

  it('after the cool-down lets exactly one probe through; the others park', async () => {
    const { clock, cb, transitions } = setup();
    open(cb, 's');
    await clock.advance(COOLDOWN);
    expect(cb.admit('s')).toEqual({ kind: 'attempt', probe: true });
    expect(cb.state('s')).toBe('half_open');
    for (let i = 0; i < 5; i++) {
      expect(cb.admit('s')).toEqual({ kind: 'park', untilMs: clock.now() + COOLDOWN });
    }
    expect(transitions).toEqual([
      ['s', 'open'],
      ['s', 'half_open'],
    ]);
    expect(cb.nonClosed()).toEqual([{ id: 's', state: 'half_open' }]);
  });

  it('closes when the probe succeeds, with a clean window', async () => {
    const { clock, cb, transitions } = setup({ failurePercent: 50, minAttempts: 4 });
    open(cb, 's');
    await clock.advance(COOLDOWN);
    attempt(cb, 's', true);
    expect(cb.state('s')).toBe('closed');
    expect(transitions.at(-1)).toEqual(['s', 'closed']);
    expect(cb.admit('s')).toEqual({ kind: 'attempt', probe: false });
    // The failures before the probe were cleared: three new ones do not reach minAttempts.
    for (let i = 0; i < 3; i++) attempt(cb, 's', false);
    expect(cb.state('s')).toBe('closed');
  });

  it('re-opens for another cool-down when the probe fails', async () => {
    const { clock, cb, transitions } = setup();
    open(cb, 's');
    await clock.advance(COOLDOWN);
    attempt(cb, 's', false);
    expect(cb.state('s')).toBe('open');
    expect(cb.admit('s')).toEqual({ kind: 'park', untilMs: clock.now() + COOLDOWN });
    await clock.advance(COOLDOWN);
    expect(cb.admit('s')).toEqual({ kind: 'attempt', probe: true });
    expect(transitions.map(([, to]) => to)).toEqual(['open', 'half_open', 'open', 'half_open']);
  });

  it('replaces a probe whose result never comes after a cool-down', async () => {
    const { clock, cb } = setup();
    open(cb, 's');
    await clock.advance(COOLDOWN);
    expect(cb.admit('s')).toEqual({ kind: 'attempt', probe: true }); // never recorded
    await clock.advance(COOLDOWN - 1);
    expect(cb.admit('s').kind).toBe('park');
    await clock.advance(1);
    expect(cb.admit('s')).toEqual({ kind: 'attempt', probe: true });
    expect(cb.admit('s').kind).toBe('park');
  });

  it('counts results of attempts admitted before the circuit opened without moving it', async () => {
    const { clock, cb, transitions } = setup();
    open(cb, 's');
    cb.record('s', true, false); // a slow attempt admitted while closed answers late
    expect(cb.state('s')).toBe('open');
    await clock.advance(COOLDOWN);
    expect(cb.admit('s')).toEqual({ kind: 'attempt', probe: true });
    cb.record('s', true, false);
    expect(cb.state('s')).toBe('half_open');
    expect(transitions.map(([, to]) => to)).toEqual(['open', 'half_open']);
  });

  it('keeps subscriptions independent', async () => {
    const { clock, cb } = setup();
    open(cb, 'bad');
    for (let i = 0; i < 10; i++) attempt(cb, 'good', true);
    attempt(cb, 'other', false);
    expect(cb.admit('good')).toEqual({ kind: 'attempt', probe: false });
    expect(cb.admit('other')).toEqual({ kind: 'attempt', probe: false });
    expect(cb.admit('bad').kind).toBe('park');
    open(cb, 'bad2');
    await clock.advance(COOLDOWN);
    expect(cb.admit('bad')).toEqual({ kind: 'attempt', probe: true });
    expect(cb.admit('bad2')).toEqual({ kind: 'attempt', probe: true });
    expect(
      cb
        .nonClosed()
        .map((n) => `${n.id}:${n.state}`)
        .sort(),
    ).toEqual(['bad2:half_open', 'bad:half_open']);
  });

  it('forgets closed subscriptions idle for a window, and keeps open ones', async () => {
    const { clock, cb } = setup();
    for (let i = 0; i < 1_000; i++) attempt(cb, `sub-${i}`, i % 2 === 0);
    open(cb, 'down');
    expect(cb.size).toBe(1_001);
    await clock.advance(WINDOW);
    attempt(cb, 'active', true); // one window since the last attempts: not idle for longer yet
    cb.admit('down'); // still asked about (its deliveries park): kept while open
    expect(cb.size).toBe(1_002);
    await clock.advance(WINDOW + 1);
    cb.admit('someone'); // any call may sweep
    expect(cb.size).toBe(1); // 'active' went idle too; 'down' is not closed and was asked about: it stays
    expect(cb.state('down')).toBe('half_open'); // the admit past its cool-down took the probe
    expect(cb.state('sub-1')).toBe('closed');
    // A forgotten subscription starts from an empty window.
    for (let i = 0; i < 3; i++) attempt(cb, 'sub-1', false);
    expect(cb.state('sub-1')).toBe('closed');
  });

  it('forgets an open circuit nobody asks about for a window after its cool-down, closing it', async () => {
    const { clock, cb, transitions } = setup();
    open(cb, 'deleted');
    expect(cb.nonClosed()).toEqual([{ id: 'deleted', state: 'open' }]);
    await clock.advance(COOLDOWN + WINDOW + 1);
    cb.admit('someone'); // any call may sweep
    await clock.advance(WINDOW + 1);
    cb.admit('someone');
    expect(cb.nonClosed()).toEqual([]);
    expect(transitions.at(-1)).toEqual(['deleted', 'closed']);
  });

  it('lists the subscriptions it refuses now: open in its cool-down, or half-open with the probe out', async () => {
    const { clock, cb } = setup();
    open(cb, 'down');
    attempt(cb, 'fine', true);
    expect(cb.refusing()).toEqual(['down']);
    await clock.advance(COOLDOWN);
    expect(cb.refusing()).toEqual([]); // cool-down over: the next caller probes
    expect(cb.admit('down')).toEqual({ kind: 'attempt', probe: true });
    expect(cb.refusing()).toEqual(['down']); // probe out
    cb.record('down', true, true);
    expect(cb.refusing()).toEqual([]);
  });
});
