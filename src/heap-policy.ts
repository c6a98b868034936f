/**
 * How much garbage V8 may keep. By default V8 lets the old generation grow up to ~4x what survived the last
 * full GC when the program allocates fast, which this service does (every delivery allocates ~20 KB that
 * dies within a second; records waiting in the in-flight window survive young-generation GCs and die old).
 * Measured with 100,000 subscriptions while draining a backlog (bench/README.md): ~77 MB live; V8's
 * default peaks at 310–320 MB RSS, a 50 % growth limit at 260–290 MB (the 300 MB target) for 12–46 % more
 * CPU per delivery. `HEAP_GROWTH_PERCENT` sets it (V8's `--heap-growing-percent`); 0 keeps V8's default.
 *
 * It is applied at start-up with v8.setFlagsFromString: the flag is read each time V8 recomputes its heap
 * limits, so it takes effect without a command-line flag (which `npx`/the bin would not pass). It is not
 * a hard limit: the heap still grows with the live set (more subscriptions), it never causes an OOM.
 */
import { setFlagsFromString } from 'node:v8';

export function heapPolicyFlags(growthPercent: number): string[] {
  return growthPercent > 0 ? [`--heap-growing-percent=${growthPercent}`] : [];
}

export function applyHeapPolicy(
  growthPercent: number,
  set: (flag: string) => void = setFlagsFromString,
): void {
  for (const flag of heapPolicyFlags(growthPercent)) set(flag);
}
