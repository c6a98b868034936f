/**
 * The live subscription snapshot the consumer matches against (DESIGN.md §3).
 *
 * Freshness: a LISTEN connection reports each changed id; ids are coalesced for `debounceMs` and the
 * changed rows alone are reloaded (a large burst falls back to one full reload). A full reload runs at
 * start, after every (re)connection of the listener, after any failed reload (with backoff), and every
 * `resyncIntervalMs` as a safety net for a lost notification. Reloads run one at a time. While Postgres
 * is unreachable the last snapshot keeps serving; `snapshot-freshness.ts` says for how long it is usable
 * (states fresh / degraded / stale / unavailable).
 */
import type { Client, Pool } from 'pg';
import pg from 'pg';
import type { Clock } from '../clock.js';
import { ConnectorError, ErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import { createPgListener, reconnectDelayMs } from './pg-listener.js';
import { SnapshotFreshness, type StateListener, type SubscriptionCacheState } from './snapshot-freshness.js';
import {
  buildSubscriptionIndex,
  refreshSubscriptionIndex,
  type SubscriptionSnapshot,
} from './subscription-index.js';
import type { SubscriptionIndex, SubscriptionStore } from './types.js';

export const SUBSCRIPTIONS_CHANNEL = 'webhook_subscriptions';

export type { SubscriptionCacheState } from './snapshot-freshness.js';

export interface SubscriptionCacheOptions {
  /** The listener's connection settings are copied from this pool's (unless `createClient` is given). */
  readonly pool?: Pool;
  readonly createClient?: () => Client;
  readonly store: Pick<SubscriptionStore, 'loadEnabled' | 'loadByIds'>;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly resyncIntervalMs: number;
  readonly maxStalenessMs: number;
  /** Called with each new snapshot (e.g. to set the subscriptions-cached gauge). */
  readonly onChange?: (index: SubscriptionIndex) => void;
  /** Window that coalesces a burst of notifications into one reload. Default 50 ms. */
  readonly debounceMs?: number;
  /** More changed ids than this in one window → one full reload instead. Default 1,000. */
  readonly maxIdsPerReload?: number;
  readonly reconnectInitialDelayMs?: number;
  readonly reconnectMaxDelayMs?: number;
}

export interface SubscriptionCache {
  /** Connects the listener and loads the snapshot; throws SUBSCRIPTIONS_UNAVAILABLE if the load fails. */
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly index: SubscriptionIndex;
  readonly state: SubscriptionCacheState;
  snapshotAgeMs(): number;
  isUsable(): boolean;
  /** Returns an unsubscribe function. */
  onStateChange(listener: StateListener): () => void;
}

function clientFactory(options: SubscriptionCacheOptions): () => Client {
  if (options.createClient) return options.createClient;
  const pool = options.pool;
  if (pool === undefined) throw new Error('createSubscriptionCache needs `pool` or `createClient`');
  const name = pool.options.application_name ?? 'tiledesk-webhook-connector';
  // pg-pool keeps `password` non-enumerable (out of logs), so the spread would drop it: copy it by name.
  const config = {
    ...pool.options,
    password: pool.options.password,
    application_name: `${name}:listener`,
    keepAlive: true,
  };
  return () => new pg.Client(config);
}

export function createSubscriptionCache(options: SubscriptionCacheOptions): SubscriptionCache {
  const { store, clock, logger, resyncIntervalMs, maxStalenessMs } = options;
  const debounceMs = options.debounceMs ?? 50;
  const maxIdsPerReload = options.maxIdsPerReload ?? 1_000;
  const stopping = new AbortController();
  const freshness = new SnapshotFreshness(clock, maxStalenessMs, logger, stopping.signal);
  let snapshot: SubscriptionSnapshot = buildSubscriptionIndex([]);
  let started = false;
  let pendingFull = false;
  const pendingIds = new Set<string>();
  let wake: (() => void) | null = null;
  const loops: Promise<void>[] = [];

  function publish(next: SubscriptionSnapshot): void {
    snapshot = next;
    if (options.onChange) {
      try {
        options.onChange(next);
      } catch (err) {
        logger.error({ err }, 'subscriptions: onChange threw');
      }
    }
  }

  function requestReload(ids?: Iterable<string>): void {
    if (ids === undefined) pendingFull = true;
    else for (const id of ids) pendingIds.add(id);
    wake?.();
  }

  async function fullReload(): Promise<void> {
    const ticket = freshness.beginFullLoad();
    // The load below sees every change committed before it starts: what was asked so far is covered.
    pendingFull = false;
    pendingIds.clear();
    const rows = await store.loadEnabled();
    const next = refreshSubscriptionIndex(snapshot, rows);
    if (next !== snapshot || !started) publish(next);
    freshness.fullLoadSucceeded(ticket);
    logger.debug(
      { size: snapshot.size, durationMs: clock.now() - ticket.startedAt },
      'subscriptions: full reload',
    );
  }

  async function partialReload(ids: string[]): Promise<void> {
    const rows = await store.loadByIds(ids);
    publish(snapshot.withChanges(ids, rows));
    freshness.partialLoadSucceeded();
    logger.debug({ changed: ids.length }, 'subscriptions: partial reload');
  }

  /** The single reload worker: waits for work, lets a burst gather, then reloads (ids, or everything). */
  async function reloadLoop(): Promise<void> {
    let failures = 0;
    while (!stopping.signal.aborted) {
      if (!pendingFull && pendingIds.size === 0) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
        await clock.sleep(debounceMs, stopping.signal);
        if (stopping.signal.aborted) return;
      }
      const full = pendingFull || pendingIds.size > maxIdsPerReload;
      try {
        if (full) {
          await fullReload();
        } else {
          const ids = [...pendingIds];
          pendingIds.clear();
          await partialReload(ids);
        }
        failures = 0;
      } catch (err) {
        freshness.reloadFailed();
        pendingFull = true; // after a failure, trust nothing but a full load
        failures++;
        logger.warn(
          { code: ErrorCode.SUBSCRIPTIONS_UNAVAILABLE, reason: (err as Error).message, failures },
          'subscriptions: reload failed; serving the last snapshot',
        );
      }
      if (failures > 0) {
        const delay = Math.min(resyncIntervalMs, reconnectDelayMs(failures - 1, 250, 30_000, Math.random));
        await clock.sleep(delay, stopping.signal);
      }
    }
  }

  async function resyncLoop(): Promise<void> {
    while (!stopping.signal.aborted) {
      await clock.sleep(resyncIntervalMs, stopping.signal);
      if (stopping.signal.aborted) return;
      await listener.ping(Math.min(resyncIntervalMs, 10_000));
      requestReload();
    }
  }

  function onNotification(payload: string | undefined): void {
    let id: unknown;
    try {
      id = payload === undefined ? undefined : (JSON.parse(payload) as { id?: unknown }).id;
    } catch {
      id = undefined;
    }
    if (typeof id === 'string') requestReload([id]);
    else requestReload(); // TRUNCATE, or a payload we do not understand
  }

  const listener = createPgListener({
    channel: SUBSCRIPTIONS_CHANNEL,
    createClient: clientFactory(options),
    clock,
    logger,
    onNotification,
    onUp: () => {
      freshness.listenerConnected();
      // Notifications were missed while down. (At start the initial load covers this request.)
      requestReload();
    },
    onDown: () => freshness.listenerLost(),
    reconnectInitialDelayMs: options.reconnectInitialDelayMs,
    reconnectMaxDelayMs: options.reconnectMaxDelayMs,
  });

  return {
    get index() {
      return snapshot;
    },
    get state() {
      return freshness.current;
    },
    snapshotAgeMs: () => freshness.ageMs(),
    isUsable: () => freshness.isUsable(),
    onStateChange: (listener) => freshness.onStateChange(listener),

    async start(): Promise<void> {
      if (started || stopping.signal.aborted) {
        throw new Error('a subscription cache starts once; create a new one');
      }
      // LISTEN first, then load: a change committed in between is both loaded and notified, never lost.
      await listener.start();
      try {
        await fullReload();
      } catch (err) {
        stopping.abort();
        await listener.stop();
        throw new ConnectorError(
          ErrorCode.SUBSCRIPTIONS_UNAVAILABLE,
          `cannot load subscriptions from Postgres: ${(err as Error).message}`,
          {},
          { cause: err },
        );
      }
      started = true;
      loops.push(reloadLoop(), resyncLoop());
      freshness.start();
    },

    async stop(): Promise<void> {
      stopping.abort();
      wake?.();
      await listener.stop();
      await Promise.allSettled(loops);
      started = false;
      freshness.stop();
    },
  };
}
