/**
 * What bench/run.ts hands every scenario runner: the run's settings (decided there, once), its names,
 * and the receivers. Runners take it as a parameter so that none reads the environment itself.
 */
import type { Receivers } from './receivers.js';

/** Sizes and per-scenario time caps (seconds). */
export interface Sizes {
  readonly events: number;
  readonly isoEvents: number;
  readonly capConsume: number;
  readonly capHttp: number;
  readonly capFo1: number;
  readonly capFo3: number;
  readonly capGot: number;
  readonly capJoin: number;
  readonly latencySeconds: number;
  readonly latencyWarmup: number;
  readonly capNaive: number;
  readonly capIso: number;
  readonly capC10: number;
  readonly capPeerIso: number;
  readonly capProfile: number;
}

/** Our connector's settings in every run (the HTTP ceilings use the same concurrency and connections). */
export interface ConnectorSettings {
  readonly concurrency: number;
  readonly connectionsPerOrigin: number;
  /** PARTITION_MAX_IN_FLIGHT. */
  readonly window: number;
  readonly heapGrowth: number;
  /** Extra Node flags for its process (BENCH_NODE_FLAGS); `echo` copies its output to stderr. */
  readonly nodeFlags: readonly string[];
  readonly echo: boolean;
}

export interface BenchContext {
  readonly quick: boolean;
  readonly sizes: Sizes;
  /** This run's id (`r…`), part of every topic, group and database name. */
  readonly run: string;
  /** Every topic, consumer group and database of the benchmark starts with these (deleted at start and end). */
  readonly topicPrefix: string;
  readonly groupPrefix: string;
  readonly dbPrefix: string;
  readonly topics: {
    readonly events: string;
    readonly iso: string;
    readonly isoPeer: (k: number) => string;
    readonly latency: string;
    readonly latencyQuarter: string;
    readonly peerDlq: string;
  };
  readonly connector: ConnectorSettings;
  readonly isolation: {
    readonly subscribers: number;
    readonly timeoutMs: number;
    /** Isolation rates are taken over a fixed window that starts this long after the first delivery/ready. */
    readonly warmupMs: number;
  };
  readonly receivers: Receivers;
  readonly log: (line: string) => void;
}
