import { describe, expect, it, jest } from '@jest/globals';
import { Deadlines, type DeadlineEntry } from '../../../src/transport/deadlines.js';

function entry(name: string, fired: string[]): DeadlineEntry {
  return {
    onDeadline: () => fired.push(name),
    dlPrev: null,
    dlNext: null,
    dlDue: 0,
    dlArmed: false,
  };
}

describe('Deadlines (one timer for a FIFO of same-budget deadlines)', () => {
  it('fires exactly the entries still armed when their budget passes, in arming order', () => {
    jest.useFakeTimers();
    try {
      let now = 0;
      const d = new Deadlines(100, () => now);
      const fired: string[] = [];
      const [a, b, c, e] = ['a', 'b', 'c', 'e'].map((n) => entry(n, fired)) as [
        DeadlineEntry,
        DeadlineEntry,
        DeadlineEntry,
        DeadlineEntry,
      ];
      d.arm(a); // due 100
      now = 30;
      d.arm(b); // due 130
      now = 60;
      d.arm(c); // due 160
      d.disarm(b); // a middle entry answered in time
      d.disarm(b); // twice is harmless
      expect(d.size).toBe(2);

      now = 100;
      jest.advanceTimersByTime(100);
      expect(fired).toEqual(['a']);
      expect(a.dlArmed).toBe(false);

      d.disarm(c); // the head answered: nothing is left, the timer is cleared
      expect(d.size).toBe(0);
      expect(jest.getTimerCount()).toBe(0);

      now = 200;
      d.arm(e); // due 300
      now = 299;
      jest.advanceTimersByTime(99);
      expect(fired).toEqual(['a']);
      now = 300;
      jest.advanceTimersByTime(1);
      expect(fired).toEqual(['a', 'e']);
      expect(jest.getTimerCount()).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it('re-arms for the next head when the timer fires early (its head answered), and a throwing callback does not stop the rest', () => {
    jest.useFakeTimers();
    try {
      let now = 0;
      const d = new Deadlines(50, () => now);
      const fired: string[] = [];
      const a = entry('a', fired);
      const boom: DeadlineEntry = {
        ...entry('boom', fired),
        onDeadline: () => {
          fired.push('boom');
          throw new Error('callback bug');
        },
      };
      const c = entry('c', fired);
      d.arm(a); // due 50: the timer is set for it
      now = 10;
      d.arm(boom); // due 60
      d.arm(c); // due 60
      d.disarm(a);
      now = 50;
      jest.advanceTimersByTime(50); // fires for a, finds boom not yet due, re-arms
      expect(fired).toEqual([]);
      now = 60;
      jest.advanceTimersByTime(10);
      expect(fired).toEqual(['boom', 'c']);
      expect(d.size).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });
});
