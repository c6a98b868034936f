/**
 * Per-receiver limits: at most `perOrigin` attempts in flight to one origin (scheme://host:port). Taken
 * *before* a global slot, so a receiver that hangs holds only its own slots, and the global ones keep
 * serving every other receiver (isolation). Idle origins are forgotten, so the map stays small.
 */
import { Semaphore } from './semaphore.js';

export class OriginSlots {
  private readonly byOrigin = new Map<string, Semaphore>();
  constructor(readonly perOrigin: number) {}

  /** As `Semaphore.acquire`: undefined = held now; a promise of true = held, false = aborted first. */
  acquire(origin: string, signal?: AbortSignal): Promise<boolean> | void {
    let s = this.byOrigin.get(origin);
    if (!s) {
      s = new Semaphore(this.perOrigin);
      this.byOrigin.set(origin, s);
    }
    return s.acquire(signal);
  }

  release(origin: string): void {
    const s = this.byOrigin.get(origin);
    if (!s) return;
    s.release();
    if (s.inUse === 0) this.byOrigin.delete(origin);
  }

  /** Origins with attempts in flight or waiting. */
  get size(): number {
    return this.byOrigin.size;
  }
}

/** The origin of a target URL, or the raw target when it does not parse (the transport then refuses it). */
export function originOf(target: string): string {
  try {
    return new URL(target).origin;
  } catch {
    return target;
  }
}
