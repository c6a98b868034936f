/**
 * `DeliveryStore` on Postgres (schemas/sql/002_parked_deliveries.sql).
 *
 * park: concurrent calls are gathered (`park-batcher.ts`) and written in one transaction, two multi-row
 * statements (events, then deliveries; a redelivered record parks nothing twice). One batch is written at a
 * time, so under load the next batch fills while the previous one commits. Every event the schema admits is
 * storable (see projectBytes): a refused row would be retried for ever, as if Postgres were down.
 * claim: one statement, `FOR UPDATE SKIP LOCKED`, so concurrent claimers never get the same row; a row is
 * claimable when parked, due, not leased (or its lease ran out), of an enabled or deleted subscription or of
 * one disabled by its endpoint health, and, for an ordered lane, the lane's head while no row of the lane is
 * leased. Due and lease times are compared with the database clock (`now()`), so instances with skewed
 * clocks agree. Each claim counts up the row's claim_count; a finish applies only to the claim it names.
 *
 * About 400 lines: the writes, the claim and the row mapping of the two tables change together.
 */
import { createHash } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import type { InboundRecord, TiledeskEvent } from '../events/event.js';
import {
  CLAIM,
  FINISH_DEAD,
  FINISH_DELIVERED,
  FINISH_RESCHEDULE,
  INSERT_DELIVERIES,
  INSERT_EVENTS,
  LANE_HEAD,
  RELEASE_SPILLED,
  PARKED_LANES,
  PRUNE_DELIVERIES,
  PRUNE_EVENTS_OF,
  PRUNE_OLD_ORPHANS,
  STATS,
} from './pg-delivery-sql.js';
import { createBatcher } from './park-batcher.js';
import type {
  ClaimedDelivery,
  DeliveryState,
  DeliveryStore,
  FinishUpdate,
  ParkedReason,
  ParkRequest,
  StoreStats,
} from './types.js';

export interface PgDeliveryStoreOptions {
  /** How long the first park of a batch waits for others (default 5 ms). */
  readonly batchDelayMs?: number;
  /** Rows that flush a batch at once (default 1000); a single larger call is written alone. */
  readonly maxBatch?: number;
}

type Headers = Record<string, string[]>;

/** Record headers as stored in webhook_events and webhook_log_messages: name → base64 values. */
export function encodeHeaders(headers: InboundRecord['headers']): string {
  // Most records have none: no entries array, no stringify.
  if (!hasKeys(headers)) return '{}';
  const out: Headers = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [value];
    out[name] = values.map((v) => (typeof v === 'string' ? Buffer.from(v) : v).toString('base64'));
  }
  return JSON.stringify(out);
}

function hasKeys(o: object): boolean {
  for (const k in o) if (Object.hasOwn(o, k)) return true;
  return false;
}

/** Bytes as kafkajs gives them: one Buffer per header, an array when the name repeats. */
function decodeHeaders(stored: Headers): Record<string, Buffer | Buffer[]> {
  const out: Record<string, Buffer | Buffer[]> = {};
  for (const [name, values] of Object.entries(stored)) {
    const buffers = values.map((v) => Buffer.from(v, 'base64'));
    out[name] = buffers.length === 1 ? buffers[0]! : buffers;
  }
  return out;
}

/** Error texts come from receivers and sockets; Postgres text cannot hold NUL. */
const errorText = (text: string | undefined): string | null =>
  text === undefined ? null : text.replaceAll('\u0000', '\ufffd');

/** SQLSTATE classes 22 (data exception) and 23 (integrity constraint): the rows, not the database. */
const isDataError = (err: unknown): boolean => /^2[23]/.test(String((err as { code?: unknown }).code ?? ''));

/** Lanes are stored as bytes: they hold a NUL, which Postgres text cannot. */
const laneBytes = (lane: string | null): Buffer | null => (lane === null ? null : Buffer.from(lane, 'utf8'));

/**
 * id_project is stored as UTF-8 bytes: the event schema lets it hold a NUL, which Postgres text refuses,
 * and a refused row would look to the caller like Postgres being down.
 */
const projectBytes = (idProject: string | null): Buffer | null =>
  idProject === null ? null : Buffer.from(idProject, 'utf8');

const md5 = (bytes: Buffer): string => createHash('md5').update(bytes).digest('hex');

/** An event row's key: its record, its event id and its payload (a recreated topic reuses the others). */
export const eventKey = (
  topic: string,
  partition: number,
  offset: string,
  eventId: string,
  payloadMd5: string,
): string => `${topic}\u0000${partition}\u0000${offset}\u0000${eventId}\u0000${payloadMd5}`;

const requestEventKey = (r: ParkRequest): string =>
  eventKey(r.record.topic, r.record.partition, r.record.offset, r.event.id, md5(r.event.payload));

/**
 * A checked-out client has no 'error' listener of pg-pool's: a backend terminated between two statements
 * of a transaction would emit an unhandled 'error' and kill the process. This one is kept until release;
 * the failure reaches the caller as the rejection of its next query.
 */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  const onError = (): void => undefined;
  client.on('error', onError);
  let failure: Error | undefined;
  try {
    await client.query('begin');
    const result = await work(client);
    await client.query('commit');
    return result;
  } catch (err) {
    failure = err instanceof Error ? err : new Error(String(err));
    await client.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    client.removeListener('error', onError);
    // A failed client may hold a broken connection: destroy it rather than give it to the next caller.
    client.release(failure);
  }
}

/** One webhook_events row's columns, as INSERT_EVENTS takes them. */
export interface EventColumns {
  readonly eventId: string;
  readonly eventName: string;
  readonly idProject: Buffer | null;
  readonly eventTs: number;
  readonly encoding: string;
  readonly payload: Buffer;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly recordTs: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** JSON text: {"name": ["base64", ...]}. */
  readonly headers: string;
}

/**
 * Inserts the events (or finds them, when already stored) in one statement; returns each one's row id by
 * its `eventKey`. The caller sorts `rows` by that key: concurrent writers lock shared rows in one order.
 */
export async function insertEvents(
  client: PoolClient,
  rows: readonly EventColumns[],
): Promise<Map<string, string>> {
  const inserted = await client.query<{
    id: string;
    topic: string;
    partition: number;
    record_offset: string;
    event_id: string;
    payload_md5: string;
  }>(INSERT_EVENTS, [
    rows.map((r) => r.eventId),
    rows.map((r) => r.eventName),
    rows.map((r) => r.idProject),
    rows.map((r) => r.eventTs),
    rows.map((r) => r.encoding),
    rows.map((r) => r.payload),
    rows.map((r) => r.topic),
    rows.map((r) => r.partition),
    rows.map((r) => r.offset),
    rows.map((r) => r.recordTs),
    rows.map((r) => r.key),
    rows.map((r) => r.value),
    rows.map((r) => r.headers),
  ]);
  const ids = new Map<string, string>();
  for (const row of inserted.rows) {
    ids.set(eventKey(row.topic, row.partition, row.record_offset, row.event_id, row.payload_md5), row.id);
  }
  return ids;
}

async function writeBatch(pool: Pool, requests: readonly ParkRequest[]): Promise<void> {
  // Sorted, so that two transactions upserting the same rows lock them in the same order (no deadlock).
  const events = new Map<string, ParkRequest>();
  for (const r of requests) {
    const key = requestEventKey(r);
    if (!events.has(key)) events.set(key, r);
  }
  const eventRows = [...events.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
  const deliveries = new Map<string, ParkRequest>();
  for (const r of requests) if (!deliveries.has(r.webhookId)) deliveries.set(r.webhookId, r);
  const deliveryRows = [...deliveries.values()].sort((a, b) =>
    a.webhookId < b.webhookId ? -1 : a.webhookId > b.webhookId ? 1 : 0,
  );
  await inTransaction(pool, async (client) => {
    const ids = await insertEvents(
      client,
      eventRows.map((r) => ({
        eventId: r.event.id,
        eventName: r.event.event,
        idProject: projectBytes(r.event.idProject),
        eventTs: r.event.timestamp,
        encoding: r.event.encoding,
        payload: r.event.payload,
        topic: r.record.topic,
        partition: r.record.partition,
        offset: r.record.offset,
        recordTs: r.record.timestamp,
        key: r.record.key,
        value: r.record.value,
        headers: encodeHeaders(r.record.headers),
      })),
    );
    const refOf = (r: ParkRequest): string => {
      const id = ids.get(requestEventKey(r));
      if (id === undefined) throw new Error(`park: no event row returned for ${r.event.id}`);
      return id;
    };
    await client.query(INSERT_DELIVERIES, [
      deliveryRows.map(refOf),
      deliveryRows.map((r) => r.subscriptionId),
      deliveryRows.map((r) => r.webhookId),
      deliveryRows.map((r) => laneBytes(r.lane)),
      deliveryRows.map((r) => r.record.offset),
      deliveryRows.map((r) => r.reason),
      deliveryRows.map((r) => r.attempts),
      deliveryRows.map((r) => r.dueAt),
      deliveryRows.map((r) => r.firstAttemptAt ?? null),
      deliveryRows.map((r) => r.lastAttemptAt ?? null),
      deliveryRows.map((r) => r.lastStatus ?? null),
      deliveryRows.map((r) => errorText(r.lastError)),
    ]);
  });
}

interface ClaimRow {
  id: string;
  claim: number;
  subscription_id: string;
  webhook_id: string;
  lane: Buffer | null;
  attempts: number;
  due_at: number;
  lease_expired: boolean;
  parked_reason: ParkedReason;
  subscription_deleted: boolean;
  subscription_disabled: string | null;
  first_attempt_at: number | null;
  last_status: number | null;
  last_error: string | null;
  event_id: string;
  event_name: string;
  id_project: Buffer | null;
  event_ts: number;
  encoding: TiledeskEvent['encoding'];
  payload: Buffer;
  topic: string;
  partition: number;
  record_offset: string;
  record_ts: string;
  record_key: Buffer | null;
  record_value: Buffer | null;
  record_headers: Headers;
}

function toClaimed(r: ClaimRow): ClaimedDelivery {
  return {
    id: r.id,
    claim: r.claim,
    subscriptionId: r.subscription_id,
    webhookId: r.webhook_id,
    lane: r.lane === null ? null : r.lane.toString('utf8'),
    attempts: r.attempts,
    dueAt: r.due_at,
    leaseExpired: r.lease_expired,
    parkedReason: r.parked_reason,
    subscriptionDeleted: r.subscription_deleted,
    subscriptionDisabled: r.subscription_disabled,
    firstAttemptAt: r.first_attempt_at,
    lastStatus: r.last_status,
    lastError: r.last_error,
    event: {
      id: r.event_id,
      event: r.event_name,
      idProject: r.id_project === null ? null : r.id_project.toString('utf8'),
      timestamp: r.event_ts,
      payload: r.payload,
      encoding: r.encoding,
    },
    record: {
      topic: r.topic,
      partition: r.partition,
      offset: r.record_offset,
      timestamp: r.record_ts,
      key: r.record_key,
      value: r.record_value,
      headers: decodeHeaders(r.record_headers),
    },
  };
}

export function createPgDeliveryStore(pool: Pool, opts: PgDeliveryStoreOptions = {}): DeliveryStore {
  const park = createBatcher<ParkRequest>({
    delayMs: opts.batchDelayMs ?? 5,
    maxItems: opts.maxBatch ?? 1000,
    write: (requests) => writeBatch(pool, requests),
    // One caller's rows were refused (a NUL in a text, a bad reason): the others must not fail with them.
    isolate: isDataError,
  });

  return {
    park,

    async claim(owner, limit, leaseMs, skipSubscriptions = []) {
      const result = await pool.query<ClaimRow>(CLAIM, [owner, limit, leaseMs, skipSubscriptions]);
      return result.rows.map(toClaimed);
    },

    async finish(owner, updates) {
      const delivered = updates.filter((u) => u.kind === 'delivered');
      const dead = updates.filter((u) => u.kind === 'dead');
      const rescheduled = updates.filter((u) => u.kind === 'reschedule');
      const common = (list: readonly FinishUpdate[]): unknown[] => [
        owner,
        list.map((u) => u.id),
        list.map((u) => u.claim),
        list.map((u) => u.attempts),
        list.map((u) => u.firstAttemptAt ?? null),
        list.map((u) => u.lastAttemptAt ?? null),
        list.map((u) => (u.kind === 'delivered' ? u.status : (u.lastStatus ?? null))),
        list.map((u) => (u.kind === 'delivered' ? null : errorText(u.lastError))),
      ];
      if (delivered.length > 0) await pool.query(FINISH_DELIVERED, common(delivered));
      if (dead.length > 0) {
        await pool.query(FINISH_DEAD, [...common(dead), dead.map((u) => u.reason)]);
      }
      if (rescheduled.length > 0) {
        await pool.query(FINISH_RESCHEDULE, [
          ...common(rescheduled),
          rescheduled.map((u) => u.dueAt),
          rescheduled.map((u): ParkedReason | null => u.reason ?? null),
        ]);
      }
    },

    async parkedLanes(partitions) {
      if (partitions.length === 0) return [];
      const result = await pool.query<{ lane: Buffer; head: string }>(PARKED_LANES, [
        partitions.map((p) => p.topic),
        partitions.map((p) => p.partition),
      ]);
      return result.rows.map((r) => ({ lane: r.lane.toString('utf8'), head: Number(r.head) }));
    },

    async releaseSpilled(lane) {
      await pool.query(RELEASE_SPILLED, [laneBytes(lane)]);
    },

    async laneHead(lane) {
      const result = await pool.query<{ head: string | null }>(LANE_HEAD, [laneBytes(lane)]);
      const head = result.rows[0]?.head ?? null;
      return head === null ? null : Number(head);
    },

    async prune(olderThanMs, batch) {
      // A park re-used one of these events meanwhile: it stays; an orphan is swept next time.
      const raced = (err: unknown): void => {
        if ((err as { code?: string }).code !== '23503') throw err;
      };
      let deleted = 0;
      for (;;) {
        const gone = await pool.query<{ event_ref: string }>(PRUNE_DELIVERIES, [olderThanMs, batch]);
        deleted += gone.rows.length;
        const refs = [...new Set(gone.rows.map((r) => r.event_ref))];
        if (refs.length > 0) await pool.query(PRUNE_EVENTS_OF, [refs]).catch(raced);
        if (gone.rows.length < batch) break;
      }
      for (;;) {
        const swept = await pool.query(PRUNE_OLD_ORPHANS, [olderThanMs, batch]).catch(raced);
        if (swept === undefined || (swept.rowCount ?? 0) < batch) return deleted;
      }
    },

    async stats(): Promise<StoreStats> {
      const result = await pool.query<{
        parked: number;
        delivered: number;
        dead: number;
        due_backlog: number;
        oldest_due_age: number;
      }>(STATS);
      const r = result.rows[0]!;
      const byState: Record<DeliveryState, number> = {
        parked: r.parked,
        delivered: r.delivered,
        dead: r.dead,
      };
      return { byState, dueBacklog: r.due_backlog, oldestDueAgeSeconds: Math.max(0, r.oldest_due_age) };
    },
  };
}
