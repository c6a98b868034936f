import { describe, expect, it } from '@jest/globals';
import { Lanes } from '../../../src/consumer/lanes.js';

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A task the test finishes by hand, recording when it started and ended. */
function manualTask(name: string, log: string[]) {
  let finish!: (v: string) => void;
  let fail!: (e: Error) => void;
  const run = (): Promise<string> => {
    log.push(`start ${name}`);
    return new Promise<string>((resolve, reject) => {
      finish = (v) => {
        log.push(`end ${name}`);
        resolve(v);
      };
      fail = (e) => {
        log.push(`fail ${name}`);
        reject(e);
      };
    });
  };
  return { run, finish: (v = name) => finish(v), fail: (e: Error) => fail(e) };
}

describe('Lanes', () => {
  it('runs tasks of the same lane one after another, in submission order, even when earlier ones are slower', async () => {
    const lanes = new Lanes();
    const log: string[] = [];
    const a = manualTask('a', log);
    const b = manualTask('b', log);
    const c = manualTask('c', log);
    const ra = lanes.run('key|sub', a.run);
    const rb = lanes.run('key|sub', b.run);
    const rc = lanes.run('key|sub', c.run);
    await flush();
    expect(log).toEqual(['start a']); // b and c wait for a however long a takes
    a.finish();
    await flush();
    expect(log).toEqual(['start a', 'end a', 'start b']);
    b.finish();
    await flush();
    c.finish();
    await expect(Promise.all([ra, rb, rc])).resolves.toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  it('runs different lanes concurrently: a slow lane does not delay another', async () => {
    const lanes = new Lanes();
    const log: string[] = [];
    const slow = manualTask('slow', log);
    const fast = manualTask('fast', log);
    const rSlow = lanes.run('k1|slow-receiver', slow.run);
    const rFast = lanes.run('k1|fast-receiver', fast.run);
    await flush();
    expect(log).toEqual(['start slow', 'start fast']);
    fast.finish();
    await expect(rFast).resolves.toBe('fast');
    expect(log).not.toContain('end slow');
    slow.finish();
    await expect(rSlow).resolves.toBe('slow');
  });

  it('runs null-lane tasks at once, unordered', async () => {
    const lanes = new Lanes();
    const log: string[] = [];
    const tasks = [manualTask('x', log), manualTask('y', log), manualTask('z', log)];
    const results = tasks.map((t) => lanes.run(null, t.run));
    await flush();
    expect(log).toEqual(['start x', 'start y', 'start z']);
    tasks[2]!.finish();
    await expect(results[2]).resolves.toBe('z');
    tasks[0]!.finish();
    tasks[1]!.finish();
    await expect(Promise.all(results)).resolves.toEqual(['x', 'y', 'z']);
    expect(lanes.active).toBe(0);
  });

  it('a rejected task does not block its lane, and its caller sees the rejection', async () => {
    const lanes = new Lanes();
    const log: string[] = [];
    const a = manualTask('a', log);
    const b = manualTask('b', log);
    const ra = lanes.run('lane', a.run);
    const rb = lanes.run('lane', b.run);
    await flush();
    a.fail(new Error('receiver exploded'));
    await expect(ra).rejects.toThrow('receiver exploded');
    await flush();
    expect(log).toEqual(['start a', 'fail a', 'start b']);
    b.finish();
    await expect(rb).resolves.toBe('b');
  });

  it('hold(): work started outside an idle lane makes later tasks of that lane wait for it', async () => {
    const lanes = new Lanes();
    const log: string[] = [];
    expect(lanes.isIdle('k')).toBe(true);
    expect(lanes.isIdle(null)).toBe(true);
    const outside = manualTask('outside', log);
    const started = outside.run();
    lanes.hold('k', started);
    lanes.hold(null, started); // a null lane is never ordered: nothing to hold
    expect(lanes.isIdle('k')).toBe(false);
    const next = lanes.run('k', manualTask('next', log).run);
    await flush();
    expect(log).toEqual(['start outside']);
    outside.finish();
    await flush();
    expect(log).toEqual(['start outside', 'end outside', 'start next']);
    void next;
  });

  it('forgets idle lanes', async () => {
    const lanes = new Lanes();
    const log: string[] = [];
    const tasks = ['l1', 'l2', 'l1'].map((lane, i) => ({ lane, t: manualTask(`${lane}#${i}`, log) }));
    const results = tasks.map(({ lane, t }) => lanes.run(lane, t.run));
    expect(lanes.active).toBe(2);
    tasks[1]!.t.finish();
    await results[1];
    await flush();
    expect(lanes.active).toBe(1); // l2 is idle
    tasks[0]!.t.finish();
    await results[0];
    await flush();
    expect(lanes.active).toBe(1); // l1 still has its second task
    tasks[2]!.t.finish();
    await results[2];
    await flush();
    expect(lanes.active).toBe(0);
    // A forgotten lane works again from scratch.
    await expect(lanes.run('l1', async () => 'again')).resolves.toBe('again');
    await flush();
    expect(lanes.active).toBe(0);
  });

  it('keeps thousands of lanes independent and leaves none behind', async () => {
    const lanes = new Lanes();
    const order = new Map<string, number[]>();
    const runs: Promise<void>[] = [];
    for (let i = 0; i < 3_000; i++) {
      const lane = `key-${i % 100}`;
      runs.push(
        lanes.run(lane, async () => {
          await Promise.resolve();
          order.set(lane, [...(order.get(lane) ?? []), i]);
        }),
      );
    }
    await Promise.all(runs);
    await flush();
    for (const [lane, seen] of order) {
      const k = Number(lane.slice(4));
      expect(seen).toEqual(Array.from({ length: 30 }, (_, j) => k + j * 100));
    }
    expect(lanes.active).toBe(0);
  });
});
