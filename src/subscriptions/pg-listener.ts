/**
 * One dedicated Postgres connection doing LISTEN on a channel, kept alive.
 *
 * States: down → (connect + LISTEN ok) → up → (error, end, or a ping that fails/times out) → down →
 * reconnect after a backoff, for ever until `stop()`. `onUp` fires each time LISTEN is established and
 * `onDown` each time it is lost: notifications sent while down are lost, so the owner reloads on `onUp`.
 */
import type pg from 'pg';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';

export interface PgListenerOptions {
  readonly channel: string;
  /** A new, unconnected client per attempt. */
  readonly createClient: () => pg.Client;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly onNotification: (payload: string | undefined) => void;
  readonly onUp: () => void;
  readonly onDown: (reason: string) => void;
  readonly reconnectInitialDelayMs?: number;
  readonly reconnectMaxDelayMs?: number;
  readonly random?: () => number;
}

export interface PgListener {
  /** One connection attempt; on failure the reconnect loop takes over. Resolves true when up. */
  start(): Promise<boolean>;
  stop(): Promise<void>;
  /** Round trip on the LISTEN connection; a failure or timeout is treated as a lost connection. */
  ping(timeoutMs: number): Promise<void>;
  readonly isUp: boolean;
}

/** Exponential backoff with "equal jitter": half fixed, half random, capped. */
export function reconnectDelayMs(
  attempt: number,
  initialMs: number,
  maxMs: number,
  random: () => number,
): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(base / 2 + (base / 2) * random());
}

export function createPgListener(options: PgListenerOptions): PgListener {
  const { channel, clock, logger } = options;
  const initialMs = options.reconnectInitialDelayMs ?? 250;
  const maxMs = options.reconnectMaxDelayMs ?? 30_000;
  const random = options.random ?? Math.random;
  const stopping = new AbortController();
  let client: pg.Client | null = null;
  let reconnecting = false;

  function lost(which: pg.Client, reason: string): void {
    if (which !== client) return;
    client = null;
    // Not awaited: on a half-open socket `end()` may never settle.
    which.end().catch(() => undefined);
    if (stopping.signal.aborted) return;
    logger.warn({ channel, reason }, 'subscriptions: LISTEN connection lost');
    options.onDown(reason);
    void reconnect();
  }

  async function connectOnce(): Promise<void> {
    const c = options.createClient();
    // Kept for the client's whole life: a late 'error' from a discarded client must not crash the process.
    c.on('error', (err) => lost(c, err.message));
    c.on('end', () => lost(c, 'connection ended'));
    c.on('notification', (n) => {
      if (c === client && n.channel === channel) options.onNotification(n.payload);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${c.escapeIdentifier(channel)}`);
    } catch (err) {
      c.end().catch(() => undefined);
      throw err;
    }
    if (stopping.signal.aborted) {
      c.end().catch(() => undefined);
      return;
    }
    client = c;
    options.onUp();
  }

  async function reconnect(): Promise<void> {
    if (reconnecting) return;
    reconnecting = true;
    try {
      for (let attempt = 0; !stopping.signal.aborted && client === null; attempt++) {
        await clock.sleep(reconnectDelayMs(attempt, initialMs, maxMs, random), stopping.signal);
        if (stopping.signal.aborted) return;
        try {
          await connectOnce();
          logger.info({ channel, attempts: attempt + 1 }, 'subscriptions: LISTEN connection restored');
        } catch (err) {
          logger.warn(
            { channel, attempt: attempt + 1, reason: (err as Error).message },
            'subscriptions: LISTEN reconnect failed',
          );
        }
      }
    } finally {
      reconnecting = false;
    }
  }

  return {
    get isUp() {
      return client !== null;
    },

    async start(): Promise<boolean> {
      try {
        await connectOnce();
        return true;
      } catch (err) {
        logger.warn(
          { channel, reason: (err as Error).message },
          'subscriptions: LISTEN connection failed; retrying',
        );
        options.onDown((err as Error).message);
        void reconnect();
        return false;
      }
    },

    async stop(): Promise<void> {
      stopping.abort();
      const c = client;
      client = null;
      if (c !== null) await c.end().catch(() => undefined);
    },

    async ping(timeoutMs: number): Promise<void> {
      const c = client;
      if (c === null) return;
      const timeout = new AbortController();
      const timedOut = clock.sleep(timeoutMs, timeout.signal).then(() => {
        if (!timeout.signal.aborted) throw new Error(`ping timed out after ${timeoutMs} ms`);
      });
      try {
        await Promise.race([c.query('select 1'), timedOut]);
      } catch (err) {
        lost(c, (err as Error).message);
      } finally {
        timeout.abort();
      }
    },
  };
}
