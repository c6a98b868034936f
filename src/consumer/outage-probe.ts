/**
 * Declares and ends an outage of one dependency by asking the dependency itself (one cheap request), never
 * by waiting for a record that needs it: a rebalance or a kafkajs restart aborts those records, and with
 * every partition paused for the outage no new one would come to notice the dependency is back.
 *
 * States: up → (a request failed and a probe fails too) → down, probed every `intervalMs` → (a probe
 * succeeds) → up. A failed request while a probe succeeds is about that request only (e.g. one schema the
 * connector may not read): `scoped`, not an outage, so nothing is paused for it.
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { Dependency, Outages } from './outages.js';

export type ProbeResult = { readonly ok: true } | { readonly ok: false; readonly message: string };

/** What a failed request means: the dependency is down (`outage`), or it answers and the failure is that request's. */
export type FailureScope = 'outage' | 'scoped';

export interface OutageProbeOptions {
  readonly dependency: Dependency;
  readonly outages: Outages;
  /** One cheap request; resolves `ok: false` (or rejects) when the dependency does not answer as it should. */
  readonly probe: () => Promise<ProbeResult>;
  readonly intervalMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
}

export class OutageProbe {
  private inFlight: Promise<ProbeResult> | null = null;
  private probing = false;
  private readonly stopping = new AbortController();

  constructor(private readonly o: OutageProbeOptions) {}

  get isDown(): boolean {
    return this.o.outages.list().includes(this.o.dependency);
  }

  /** A request needing the dependency failed: is it down? Declares the outage (and probes until it ends) if so. */
  async reportFailure(): Promise<FailureScope> {
    if (this.isDown) return 'outage';
    const r = await this.probeOnce();
    if (r.ok) return 'scoped';
    this.declare(r.message);
    return 'outage';
  }

  /** Stops probing (shutdown); an outage still declared stays declared. */
  stop(): void {
    this.stopping.abort();
  }

  /** Concurrent callers share one request. */
  private probeOnce(): Promise<ProbeResult> {
    this.inFlight ??= this.o
      .probe()
      .catch((err: unknown): ProbeResult => ({ ok: false, message: (err as Error)?.message ?? String(err) }))
      .finally(() => {
        this.inFlight = null;
      });
    return this.inFlight;
  }

  private declare(message: string): void {
    if (!this.isDown) {
      this.o.logger.warn({ dependency: this.o.dependency, probe: message }, 'dependency down; probing it');
    }
    this.o.outages.set(this.o.dependency, true);
    if (!this.probing) {
      this.probing = true;
      void this.probeUntilUp().finally(() => {
        this.probing = false;
      });
    }
  }

  private async probeUntilUp(): Promise<void> {
    const signal = this.stopping.signal;
    while (this.isDown && !signal.aborted) {
      await this.o.clock.sleep(this.o.intervalMs, signal);
      if (signal.aborted || !this.isDown) return;
      const r = await this.probeOnce();
      if (signal.aborted) return;
      if (r.ok) {
        this.o.logger.info({ dependency: this.o.dependency }, 'dependency answers again; ending the outage');
        this.o.outages.set(this.o.dependency, false);
        return;
      }
      this.o.logger.debug({ dependency: this.o.dependency, probe: r.message }, 'dependency still down');
    }
  }
}
