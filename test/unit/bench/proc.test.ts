import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from '@jest/globals';
import { ProcMonitor, readThreadCpuMs } from '../../../bench/lib/proc.js';

/** A fixed amount of work (not a wall-clock spin: the same work however loaded the machine is). */
const WORK = `let x = 0; for (let i = 0; i < 3e8; i++) x = (x * 1103515245 + 12345) | 0; globalThis.sink = x;`;

describe('bench /proc sampling', () => {
  it("tells the main thread's CPU from the other threads' of the same process", async () => {
    const mon = new ProcMonitor(process.pid, 20);
    const t0 = Date.now();
    // Another thread of this process works while the main thread waits.
    const w = new Worker(WORK, { eval: true });
    await once(w, 'exit');
    const t1 = Date.now();
    // Then the main thread works.
    new Function(WORK)();
    const t2 = Date.now();
    mon.stop();

    const workerTree = mon.cpuBetween(t0, t1)!;
    const workerMain = mon.mainCpuBetween(t0, t1)!;
    const mainTree = mon.cpuBetween(t1, t2)!;
    const mainMain = mon.mainCpuBetween(t1, t2)!;
    expect(workerTree).toBeGreaterThan(0);
    expect(workerMain).toBeLessThan(workerTree / 2);
    expect(mainMain).toBeGreaterThan(mainTree / 2);
    expect(readThreadCpuMs(process.pid, process.pid)).toBeGreaterThan(0);
    expect(readThreadCpuMs(process.pid, 0x7fffffff)).toBeNull();
  });
});
