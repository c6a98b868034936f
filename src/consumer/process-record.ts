/**
 * One record's whole trip: decode → match → deliver to every matching subscription (an ordered one in its
 * (subscription, key) lane) → dead-letter what failed, park what must wait. Resolves `done` only when every
 * delivery got a 2xx, its dead letter was acknowledged, or it was durably parked (or the record was poison
 * and its dead letter acknowledged, or it matched nothing);
 * `aborted` when shutdown or revocation interrupted it — then the record must not be committed.
 * Never rejects for a delivery, decode or dead-letter failure.
 *
 * Two paths to the same deliveries: the common one (plain JSON, a usable snapshot) starts them within the
 * call, with no await (measured: bench/README.md); anything that has to wait takes `intakeSlowly`.
 */
import { isConnectorError, ErrorCode } from '../errors.js';
import type { DecodeResult } from '../events/decode-record.js';
import type { InboundRecord, RecordCoordinates, TiledeskEvent } from '../events/event.js';
import { writeDeadLetter } from '../dead-letter/settle.js';
import { eventFamily } from '../metrics/metrics.js';
import type { SubscriptionIndex } from '../subscriptions/types.js';
import type { Lanes } from './lanes.js';
import type { FailureScope } from './outage-probe.js';
import type { Outages } from './outages.js';
import { startDelivery, type RecordResult, type StartDeliveryDeps } from './start-delivery.js';

export type { RecordResult };

export interface PipelineDeps extends StartDeliveryDeps {
  /** Synchronous for plain JSON; a promise when a schema registry is involved. */
  readonly decode: (value: Buffer | null, at: RecordCoordinates) => DecodeResult | Promise<DecodeResult>;
  /** The current snapshot, or null while it is too stale to use (the caller waits). */
  readonly subscriptions: () => SubscriptionIndex | null;
  /** Intake lanes: record key. Decoding and matching run in record order per key, so a record whose
   * decode waits (schema lookup, outage) is never overtaken by a later record with the same key. */
  readonly keyLanes: Lanes;
  readonly outages: Outages;
  /** Says whether a registry failure is an outage (and then declares it and probes until it ends). */
  readonly registryFailure: () => Promise<FailureScope>;
  /** Poll interval while a dependency of ours is down. */
  readonly outageRetryMs?: number;
}

/** Longest wait between two tries of a record whose schema the registry will not give us (a scoped failure). */
export const SCOPED_REGISTRY_RETRY_MAX_MS = 60_000;

/** What intake produced: a final result, or one promise per delivery it started. */
type Started = RecordResult | Promise<RecordResult>[];

/**
 * The common case runs without an async step until the deliveries are started: a JSON record decodes
 * synchronously and the snapshot is usable, so intake finishes in this call and needs no key lane (nothing
 * can overtake a synchronous step). Only an intake that has to wait (a schema lookup, an outage, a stale
 * snapshot, a dead letter being written) holds its key lane, so later records with that key queue behind it.
 */
export function processRecord(
  rec: InboundRecord,
  d: PipelineDeps,
  signal: AbortSignal,
): Promise<RecordResult> {
  const key = rec.key === null ? null : rec.key.toString('latin1');
  if (!d.keyLanes.isIdle(key)) {
    return d.keyLanes.run(key, () => intakeSlowly(rec, key, decodeNow(rec, d), d, signal)).then(settle);
  }
  const decoded = decodeNow(rec, d);
  // The fast path: decoded already ('ok' is on a result, never on a promise), valid, and a snapshot to match.
  if ('ok' in decoded && decoded.ok) {
    const index = d.subscriptions();
    if (index !== null) {
      d.metrics.eventsConsumed.inc({ event_family: eventFamily(decoded.event.event) });
      return settle(fanOut(rec, key, decoded.event, index, d, signal));
    }
  }
  const intake = intakeSlowly(rec, key, decoded, d, signal);
  d.keyLanes.hold(key, intake);
  return intake.then(settle);
}

function settle(started: Started): Promise<RecordResult> {
  if (started === 'done' || started === 'aborted') return Promise.resolve(started);
  if (started.length === 1) return started[0]!;
  return Promise.all(started).then((results) => (results.every((r) => r === 'done') ? 'done' : 'aborted'));
}

/**
 * Intake that waits: for the decode (a schema lookup, a registry failure), for a poison record's dead
 * letter, for a usable snapshot. Resolves once the deliveries are started, not done: its key lane is
 * held until then only.
 */
async function intakeSlowly(
  rec: InboundRecord,
  key: string | null,
  first: DecodeResult | Promise<DecodeResult>,
  d: PipelineDeps,
  signal: AbortSignal,
): Promise<Started> {
  const decoded = await decodeWithRetry(rec, first, d, signal);
  if (decoded === null) return 'aborted';
  if (!decoded.ok) {
    d.metrics.eventsPoison.inc({ reason: decoded.reason });
    const info = { reason: decoded.reason, error: decoded.message };
    return (await writeDeadLetter(rec, info, d, signal)) ? 'done' : 'aborted';
  }
  d.metrics.eventsConsumed.inc({ event_family: eventFamily(decoded.event.event) });
  const index = await snapshotWhenUsable(d, signal);
  return index === null ? 'aborted' : fanOut(rec, key, decoded.event, index, d, signal);
}

/** Starts one delivery per matching subscription (see start-delivery.ts). */
function fanOut(
  rec: InboundRecord,
  key: string | null,
  event: TiledeskEvent,
  index: SubscriptionIndex,
  d: PipelineDeps,
  signal: AbortSignal,
): Started {
  const subs = index.match(event.event, event.idProject);
  if (subs.length === 0) {
    d.metrics.eventsUnmatched.inc({ event_family: eventFamily(event.event) });
    return 'done';
  }
  return subs.map((sub) => startDelivery(rec, key, event, sub, d, signal));
}

/** The decoder's answer as it comes: a result now (plain JSON) or a promise; a throw becomes a rejection. */
function decodeNow(rec: InboundRecord, d: PipelineDeps): DecodeResult | Promise<DecodeResult> {
  try {
    return d.decode(rec.value, rec);
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * Settles `first` (a decodeNow answer for `rec`); null when the signal aborted the wait. A registry failure
 * is never the record's fault (see schema-registry-decoder.ts): the record waits and is tried again, never
 * dead-lettered. An outage (the registry does not answer a probe either) is declared and pauses everything
 * until a probe succeeds; a scoped failure (the registry answers, but not for this schema: a 401/403 for
 * one subject) holds only this record, tried again with backoff up to a minute apart. A decoder bug must
 * not stop the partition: it makes the record undecodable.
 */
async function decodeWithRetry(
  rec: InboundRecord,
  first: DecodeResult | Promise<DecodeResult>,
  d: PipelineDeps,
  signal: AbortSignal,
): Promise<DecodeResult | null> {
  const retryMs = d.outageRetryMs ?? 1_000;
  let answer = first;
  for (let scopedTries = 0; ;) {
    try {
      return await answer;
    } catch (err) {
      if (!isConnectorError(err, ErrorCode.SCHEMA_REGISTRY_UNAVAILABLE)) {
        return { ok: false, reason: 'undecodable', message: `decoder failed: ${(err as Error).message}` };
      }
      const scope = await d.registryFailure();
      const at = { topic: rec.topic, partition: rec.partition, offset: rec.offset };
      let waitMs = retryMs;
      if (scope === 'outage') {
        scopedTries = 0;
        d.logger.warn({ err, ...at }, 'schema registry unavailable; will retry');
      } else {
        waitMs = Math.min(SCOPED_REGISTRY_RETRY_MAX_MS, retryMs * 2 ** scopedTries++);
        d.logger.error(
          { err, ...at, retryInMs: waitMs },
          "the schema registry answers, but not with this record's writer schema (no read access to its subject?); retrying this record only",
        );
      }
      if (signal.aborted) return null;
      await d.clock.sleep(waitMs, signal);
      if (signal.aborted) return null;
      answer = decodeNow(rec, d);
    }
  }
}

async function snapshotWhenUsable(d: PipelineDeps, signal: AbortSignal): Promise<SubscriptionIndex | null> {
  for (;;) {
    const index = d.subscriptions();
    if (index !== null) return index;
    if (signal.aborted) return null;
    await d.clock.sleep(d.outageRetryMs ?? 1_000, signal);
  }
}
