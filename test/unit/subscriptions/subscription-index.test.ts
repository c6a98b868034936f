import { describe, expect, it } from '@jest/globals';
import {
  buildSubscriptionIndex,
  refreshSubscriptionIndex,
} from '../../../src/subscriptions/subscription-index.js';
import type { Subscription } from '../../../src/subscriptions/types.js';
import { subscription } from '../../support/subscription.js';

let seq = 0;
function sub(over: Partial<Subscription> & Pick<Subscription, 'idProject' | 'event'>): Subscription {
  seq++;
  return subscription({ id: `sub${seq}`, target: `https://receiver.example/${seq}`, ...over });
}

const ids = (subs: readonly Subscription[]): string[] => subs.map((s) => s.id).sort();

describe("buildSubscriptionIndex: Tiledesk's matching rule", () => {
  const own = sub({ id: 'own', idProject: 'P', event: 'request.create' });
  const ownOther = sub({ id: 'own-other-event', idProject: 'P', event: 'request.close' });
  const otherProject = sub({ id: 'other-project', idProject: 'Q', event: 'request.create' });
  const globalFromQ = sub({ id: 'global-q', idProject: 'Q', event: 'request.create', global: true });
  const globalFromP = sub({ id: 'global-p', idProject: 'P', event: 'request.create', global: true });
  const disabled = sub({ id: 'disabled', idProject: 'P', event: 'request.create', enabled: false });
  const disabledGlobal = sub({
    id: 'disabled-global',
    idProject: 'Q',
    event: 'request.create',
    global: true,
    enabled: false,
  });
  const index = buildSubscriptionIndex([
    own,
    ownOther,
    otherProject,
    globalFromQ,
    globalFromP,
    disabled,
    disabledGlobal,
  ]);

  it("matches the project's own subscriptions of that event and every global one, each once", () => {
    expect(ids(index.match('request.create', 'P'))).toEqual(['global-p', 'global-q', 'own']);
  });

  it("matches a global subscription from another project, not that project's own ones", () => {
    expect(ids(index.match('request.create', 'R'))).toEqual(['global-p', 'global-q']);
    expect(ids(index.match('request.create', 'Q'))).toEqual(['global-p', 'global-q', 'other-project']);
  });

  it('matches nothing for another event', () => {
    expect(index.match('lead.create', 'P')).toEqual([]);
    expect(ids(index.match('request.close', 'P'))).toEqual(['own-other-event']);
    expect(index.match('request.close', 'Q')).toEqual([]);
  });

  it('leaves disabled subscriptions out', () => {
    expect(ids(index.match('request.create', 'P'))).not.toContain('disabled');
    expect(ids(index.match('request.create', 'R'))).not.toContain('disabled-global');
    expect(index.get('disabled')).toBeUndefined();
    expect(index.size).toBe(5);
  });

  it('matches only global subscriptions when the event has no project', () => {
    expect(ids(index.match('request.create', null))).toEqual(['global-p', 'global-q']);
    expect(index.match('request.close', null)).toEqual([]);
  });

  it('matches names exactly: no wildcard, no prefix, case-sensitive', () => {
    const wild = buildSubscriptionIndex([sub({ id: 'star', idProject: 'P', event: 'request.*' })]);
    expect(wild.match('request.create', 'P')).toEqual([]);
    expect(wild.match('request.*', 'P').map((s) => s.id)).toEqual(['star']);
    expect(index.match('request', 'P')).toEqual([]);
    expect(index.match('request.create.extra', 'P')).toEqual([]);
    expect(index.match('Request.Create', 'P')).toEqual([]);
  });

  it('returns the same frozen array on every call (no allocation on the hot path)', () => {
    const first = index.match('request.create', 'P');
    expect(index.match('request.create', 'P')).toBe(first);
    expect(index.match('request.create', 'R')).toBe(index.match('request.create', null));
    expect(Object.isFrozen(first)).toBe(true);
    expect(index.match('nothing', 'P')).toBe(index.match('other', null));
  });

  it('finds an enabled subscription by id', () => {
    expect(index.get('own')).toBe(own);
    expect(index.get('missing')).toBeUndefined();
  });
});

describe('withChanges', () => {
  const a = sub({ id: 'a', idProject: 'P', event: 'request.create' });
  const b = sub({ id: 'b', idProject: 'P', event: 'request.create' });
  const g = sub({ id: 'g', idProject: 'Q', event: 'request.create', global: true });
  const base = buildSubscriptionIndex([a, b, g]);

  it('adds, updates, disables and deletes without touching the original snapshot', () => {
    const c = sub({ id: 'c', idProject: 'R', event: 'request.create' });
    const movedA = { ...a, event: 'request.close' };
    const disabledB = { ...b, enabled: false };
    const next = base.withChanges(['a', 'b', 'c', 'g'], [movedA, disabledB, c]);
    expect(ids(next.match('request.create', 'P'))).toEqual([]);
    expect(ids(next.match('request.close', 'P'))).toEqual(['a']);
    expect(ids(next.match('request.create', 'R'))).toEqual(['c']);
    expect(next.match('request.create', null)).toEqual([]);
    expect(next.size).toBe(2);
    expect(ids(base.match('request.create', 'P'))).toEqual(['a', 'b', 'g']);
    expect(base.size).toBe(3);
  });

  it('gives the same answers as a full rebuild', () => {
    const h = sub({ id: 'h', idProject: 'P', event: 'request.create', global: true });
    const next = base.withChanges(['b'], [h]);
    const rebuilt = buildSubscriptionIndex([a, g, h]);
    for (const project of ['P', 'Q', 'X', null]) {
      expect(ids(next.match('request.create', project))).toEqual(
        ids(rebuilt.match('request.create', project)),
      );
    }
    expect(ids(next.match('request.create', 'P'))).toEqual(['a', 'g', 'h']);
  });

  it('stays equal to a full rebuild through many random changes', () => {
    // Small deterministic PRNG (mulberry32), so a failure reproduces.
    let seed = 42;
    const random = (): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const events = ['e1', 'e2', 'e3'];
    const projects = ['P', 'Q', 'R', 'S'];
    const randomSub = (id: string): Subscription =>
      sub({
        id,
        idProject: pick(projects),
        event: pick(events),
        global: random() < 0.2,
        enabled: random() < 0.85,
      });
    const table = new Map<string, Subscription>();
    for (let i = 0; i < 40; i++) table.set(`id${i}`, randomSub(`id${i}`));
    let snapshot = buildSubscriptionIndex([...table.values()]);
    for (let step = 0; step < 300; step++) {
      const changedIds: string[] = [];
      const rows: Subscription[] = [];
      for (let k = 1 + Math.floor(random() * 3); k > 0; k--) {
        const id = `id${Math.floor(random() * 50)}`;
        changedIds.push(id);
        if (random() < 0.25) {
          table.delete(id);
        } else {
          const next = randomSub(id);
          table.set(id, next);
        }
      }
      for (const id of new Set(changedIds)) {
        const row = table.get(id);
        if (row) rows.push(row);
      }
      snapshot = snapshot.withChanges(changedIds, rows);
      const rebuilt = buildSubscriptionIndex([...table.values()]);
      expect(snapshot.size).toBe(rebuilt.size);
      for (const event of events) {
        for (const project of [...projects, 'X', null]) {
          const got = snapshot.match(event, project);
          expect(ids(got)).toEqual(ids(rebuilt.match(event, project)));
          expect(new Set(got.map((s) => s.id)).size).toBe(got.length);
        }
      }
      for (const id of table.keys()) expect(snapshot.get(id)).toBe(rebuilt.get(id));
    }
  });
});

describe('refreshSubscriptionIndex', () => {
  const a = sub({ id: 'a', idProject: 'P', event: 'request.create' });
  const b = sub({ id: 'b', idProject: 'P', event: 'request.create', global: true });
  const base = buildSubscriptionIndex([a, b]);
  const copy = (s: Subscription): Subscription => ({
    ...s,
    createdAt: new Date(s.createdAt),
    updatedAt: new Date(s.updatedAt),
  });

  it('returns the same snapshot when a full load finds nothing changed', () => {
    expect(
      refreshSubscriptionIndex(base, [copy(a), copy(b), { ...copy(a), id: 'off', enabled: false }]),
    ).toBe(base);
  });

  it('keeps the objects of unchanged rows, so per-subscription caches survive a resync', () => {
    const next = refreshSubscriptionIndex(base, [copy(a), { ...copy(b), target: 'https://new.example' }]);
    expect(next).not.toBe(base);
    expect(next.get('a')).toBe(a);
    expect(next.get('b')?.target).toBe('https://new.example');
    expect(refreshSubscriptionIndex(base, [copy(a)]).size).toBe(1);
    expect(refreshSubscriptionIndex(base, [copy(a), copy(b), sub({ idProject: 'Q', event: 'x' })]).size).toBe(
      3,
    );
  });

  it('replaces the object of a row whose ordering changed (the delivery side reads it per object)', () => {
    const next = refreshSubscriptionIndex(base, [copy(a), { ...copy(b), ordering: 'ordered' }]);
    expect(next).not.toBe(base);
    expect(next.get('a')).toBe(a);
    expect(next.get('b')?.ordering).toBe('ordered');
  });
});
