/**
 * `ManualResends` on Postgres: a re-send parks the delivery (parked_reason 'manual', attempts 0, due now,
 * the same webhook-id) and the connector's parked runner sends it, through the normal signed path, with the
 * full retry schedule. Nothing is sent from the API process.
 *
 * The event comes from the delivery's webhook_deliveries row when one is kept (its webhook_events row), else
 * from the log's message row, inserted into webhook_events with the parking store's own statement (a copy
 * already there is reused). A delivery already parked is made due now instead (a live lease left alone:
 * that attempt is running, and its result decides what comes next).
 *
 * The row joins no ordered lane (lane null): a re-send is out of order by nature — the other events of its
 * key were delivered long ago, or later ones since — and as the lowest seq of its lane it would hold every
 * newer parked delivery of that key behind a person's re-send and its retries, for hours.
 *
 * About 390 lines: re-send, recover and send-test share the event lookup, the insert into webhook_events
 * and the parking statement; split, each would repeat the rules on which rows may be parked again.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { PoolClient, Pool } from 'pg';
import { messageKeyOf } from '../../delivery-log/message-key.js';
import { webhookId } from '../../delivery/webhook-id.js';
import { ConnectorError, ErrorCode } from '../../errors.js';
import { eventKey, inTransaction, insertEvents } from '../../parking/pg-delivery-store.js';
import { INSERT_DELIVERIES } from '../../parking/pg-delivery-sql.js';
import { DELIVERY_ROWS, IS_LATEST, MESSAGE_PAYLOAD, STATUS } from './log-sql.js';
import type { ManualResends } from './types.js';

export interface ManualResendsOptions {
  /** Epoch ms, for the test event's timestamps (default Date.now). */
  readonly now?: () => number;
  /** The test event's id suffix (default crypto.randomUUID). */
  readonly randomUUID?: () => string;
}

/** The columns of a logged message, as webhook_events has them. */
interface EventSource {
  event_id: string;
  event_name: string;
  id_project: Buffer | null;
  event_ts: number;
  encoding: string;
  payload: Buffer;
  topic: string;
  partition: number;
  record_offset: string;
  record_ts: string;
  record_key: Buffer | null;
  record_value: Buffer | null;
  record_headers: unknown;
}

/** What to park: the event's row when kept, else the logged message to insert it from. */
interface Queued {
  readonly webhookId: string;
  readonly subscriptionId: string;
  readonly eventRef: string | null;
  readonly seq: string | null;
  readonly message: EventSource | null;
}

/**
 * Most deliveries one recover call queues (the oldest failed ones first): a subscription that failed for
 * days must not turn one request into a transaction over a million rows and a burst at its receiver. A
 * call that answers this many is called again; the ones it queued are pending, not failed, by then.
 */
export const RECOVER_MAX = 1_000;

const MESSAGE_COLUMNS = `m.message_key, m.event_id, m.event_name, m.id_project, m.event_ts, m.encoding,
  ${MESSAGE_PAYLOAD} as payload,
  m.topic, m.partition, m.record_offset::text, m.record_ts, m.record_key, m.record_value, m.record_headers`;

const md5 = (bytes: Buffer): string => createHash('md5').update(bytes).digest('hex');

const keyOf = (e: EventSource): string =>
  eventKey(e.topic, e.partition, e.record_offset, e.event_id, md5(e.payload));

/**
 * The subscription's event name when it exists and is of the project; a global one (every project's events)
 * only for a platform caller.
 */
async function subscriptionEvent(
  client: Pool | PoolClient,
  idProject: string,
  subscriptionId: string,
  platform = false,
): Promise<string | undefined> {
  const r = await client.query<{ event: string }>(
    'select event from webhook_subscriptions where id = $1 and id_project = $2 and (not global or $3)',
    [subscriptionId, idProject, platform],
  );
  return r.rows[0]?.event;
}

async function messagesByKey(client: PoolClient, keys: readonly string[]): Promise<Map<string, EventSource>> {
  if (keys.length === 0) return new Map();
  const r = await client.query<EventSource & { message_key: string }>(
    `select distinct on (m.message_key) ${MESSAGE_COLUMNS}
      from webhook_log_messages m where m.message_key = any($1::text[])
      order by m.message_key`,
    [keys],
  );
  return new Map(r.rows.map((row) => [row.message_key, row]));
}

/**
 * Parks each delivery (due now, 'manual'), or makes its parked row due now. One statement per table, rows
 * sorted (events by their key, deliveries by webhook-id) as the parking store sorts them, so concurrent
 * writers of the same rows lock them in the same order.
 */
async function park(client: PoolClient, items: readonly Queued[]): Promise<void> {
  if (items.length === 0) return;
  // The database clock: due times are compared with now() by the runners' claims.
  const now = (
    await client.query<{ now: number }>('select (extract(epoch from now()) * 1000)::float8 as now')
  ).rows[0]!.now;
  const toInsert = new Map<string, EventSource>();
  for (const q of items) {
    if (q.eventRef === null && q.message !== null) toInsert.set(keyOf(q.message), q.message);
  }
  const rows = [...toInsert.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, m]) => m);
  const refs =
    rows.length === 0
      ? new Map<string, string>()
      : await insertEvents(
          client,
          rows.map((m) => ({
            eventId: m.event_id,
            eventName: m.event_name,
            idProject: m.id_project,
            eventTs: m.event_ts,
            encoding: m.encoding,
            payload: m.payload,
            topic: m.topic,
            partition: m.partition,
            offset: m.record_offset,
            recordTs: m.record_ts,
            key: m.record_key,
            value: m.record_value,
            headers: JSON.stringify(m.record_headers ?? {}),
          })),
        );
  const deliveryRows = [...items]
    .map((q) => ({
      q,
      ref: q.eventRef ?? (q.message === null ? undefined : refs.get(keyOf(q.message))),
      seq: q.seq ?? q.message?.record_offset ?? '0',
    }))
    .sort((a, b) => (a.q.webhookId < b.q.webhookId ? -1 : a.q.webhookId > b.q.webhookId ? 1 : 0));
  for (const r of deliveryRows) {
    if (r.ref === undefined) throw new Error(`resend: no event row for ${r.q.webhookId}`);
  }
  await client.query(INSERT_DELIVERIES, [
    deliveryRows.map((r) => r.ref),
    deliveryRows.map((r) => r.q.subscriptionId),
    deliveryRows.map((r) => r.q.webhookId),
    deliveryRows.map(() => null),
    deliveryRows.map((r) => r.seq),
    deliveryRows.map(() => 'manual'),
    deliveryRows.map(() => 0),
    deliveryRows.map(() => now),
    deliveryRows.map(() => null),
    deliveryRows.map(() => null),
    deliveryRows.map(() => null),
    deliveryRows.map(() => null),
  ]);
  // A row parked meanwhile by the connector (the insert above left it as it was): due now too.
  await makeDue(
    client,
    deliveryRows.map((r) => r.q.webhookId),
  );
}

/** Makes the parked rows of these deliveries due now, like `deliveries retry-now`; returns those found. */
async function makeDue(client: PoolClient, webhookIds: readonly string[]): Promise<Set<string>> {
  const r = await client.query<{ webhook_id: string }>(
    `update webhook_deliveries
        set due_at = least(due_at, now()),
            lease_owner = case when lease_until > now() then lease_owner end,
            lease_until = case when lease_until > now() then lease_until end
      where webhook_id = any($1::text[]) and state = 'parked'
      returning webhook_id`,
    [webhookIds],
  );
  return new Set(r.rows.map((row) => row.webhook_id));
}

export function createPgManualResends(pool: Pool, options: ManualResendsOptions = {}): ManualResends {
  const now = options.now ?? Date.now;
  const uuid = options.randomUUID ?? randomUUID;

  return {
    async resend(idProject, id, platform = false) {
      return inTransaction(pool, async (client) => {
        // The delivery: its latest logged attempt of this project, else a parked or dead row of one of the
        // project's subscriptions (its attempts' partitions may be gone while the row is kept).
        const logged = await client.query<{ subscription_id: string; message_key: string }>(
          `select a.subscription_id, a.message_key from webhook_log_attempts a
            where a.webhook_id = $1 and a.id_project = $2
            order by a.attempted_at desc, a.attempt desc limit 1`,
          [id, idProject],
        );
        const kept = await client.query<{ subscription_id: string; event_ref: string; seq: string }>(
          `select d.subscription_id, d.event_ref::text, d.seq::text from webhook_deliveries d
            join webhook_subscriptions s on s.id = d.subscription_id and s.id_project = $2
            where d.webhook_id = $1 and d.state in ('parked', 'dead')
            order by d.id desc limit 1`,
          [id, idProject],
        );
        const attempt = logged.rows[0];
        const row = kept.rows[0];
        const subscriptionId = attempt?.subscription_id ?? row?.subscription_id;
        if (subscriptionId === undefined) return 'not_found';
        if ((await subscriptionEvent(client, idProject, subscriptionId, platform)) === undefined) {
          return 'not_found';
        }
        if ((await makeDue(client, [id])).size > 0) return 'queued';
        let message: EventSource | null = null;
        if (row === undefined && attempt !== undefined) {
          message = (await messagesByKey(client, [attempt.message_key])).get(attempt.message_key) ?? null;
        }
        if (row === undefined && message === null) return 'not_found';
        await park(client, [
          {
            webhookId: id,
            subscriptionId,
            eventRef: row?.event_ref ?? null,
            seq: row?.seq ?? null,
            message,
          },
        ]);
        return 'queued';
      });
    },

    async recover(idProject, subscriptionId, since, platform = false) {
      return inTransaction(pool, async (client) => {
        if ((await subscriptionEvent(client, idProject, subscriptionId, platform)) === undefined) {
          throw new ConnectorError(
            ErrorCode.SUBSCRIPTION_NOT_FOUND,
            `no subscription ${subscriptionId} in project ${idProject}`,
            { subscriptionId },
          );
        }
        // Failed per the log: latest attempt at or after `since`, walked on the subscription's index.
        const fromLog = await client.query<{
          webhook_id: string;
          message_key: string;
          event_ref: string | null;
          seq: string | null;
        }>(
          `select a.webhook_id, a.message_key, w.event_ref, w.seq
            from webhook_log_attempts a ${DELIVERY_ROWS}
            where a.subscription_id = $1 and a.id_project = $2 and a.attempted_at >= $3 and ${IS_LATEST}
              and ${STATUS} = 'failed'
            order by a.attempted_at, a.webhook_id
            limit $4`,
          [subscriptionId, idProject, since, RECOVER_MAX],
        );
        // Dead rows failed at or after `since` (their last attempt, or their end when never attempted: a
        // disabled subscription's rows), unless already parked again or delivered since per the log.
        const fromRows = await client.query<{ webhook_id: string; event_ref: string; seq: string }>(
          `select distinct on (d.webhook_id) d.webhook_id, d.event_ref::text, d.seq::text
            from webhook_deliveries d
            where d.subscription_id = $1 and d.state = 'dead'
              and coalesce(d.last_attempt_at, d.finished_at) >= $2
              and not exists (select 1 from webhook_deliveries p
                              where p.webhook_id = d.webhook_id and p.state = 'parked')
              and (select l.result from webhook_log_attempts l where l.webhook_id = d.webhook_id
                   order by l.attempted_at desc, l.attempt desc limit 1) is distinct from 'delivered'
            order by d.webhook_id, d.id desc
            limit $3`,
          [subscriptionId, since, RECOVER_MAX],
        );
        const items = new Map<string, Queued>();
        for (const r of fromRows.rows) {
          items.set(r.webhook_id, {
            webhookId: r.webhook_id,
            subscriptionId,
            eventRef: r.event_ref,
            seq: r.seq,
            message: null,
          });
        }
        const needMessage = fromLog.rows.filter((r) => !items.has(r.webhook_id) && r.event_ref === null);
        const messages = await messagesByKey(client, [...new Set(needMessage.map((r) => r.message_key))]);
        for (const r of fromLog.rows) {
          if (items.has(r.webhook_id)) continue;
          const message = r.event_ref === null ? (messages.get(r.message_key) ?? null) : null;
          // Its message left the log and no row keeps its event: nothing to send.
          if (r.event_ref === null && message === null) continue;
          items.set(r.webhook_id, {
            webhookId: r.webhook_id,
            subscriptionId,
            eventRef: r.event_ref,
            seq: r.seq,
            message,
          });
        }
        const queued = [...items.values()].slice(0, RECOVER_MAX);
        await park(client, queued);
        return queued.length;
      });
    },

    async sendTest(idProject, subscriptionId, platform = false) {
      return inTransaction(pool, async (client) => {
        const eventName = await subscriptionEvent(client, idProject, subscriptionId, platform);
        if (eventName === undefined) {
          throw new ConnectorError(
            ErrorCode.SUBSCRIPTION_NOT_FOUND,
            `no subscription ${subscriptionId} in project ${idProject}`,
            { subscriptionId },
          );
        }
        const at = now();
        const eventId = `test-${uuid()}`;
        const payload = Buffer.from(
          JSON.stringify({
            id: eventId,
            id_project: idProject,
            test: true,
            text: 'A test event sent through the management API.',
            createdAt: new Date(at).toISOString(),
          }),
          'utf8',
        );
        // Record coordinates that say they are a test: no topic can be named '(api-test)'.
        const event: EventSource = {
          event_id: eventId,
          event_name: eventName,
          id_project: Buffer.from(idProject, 'utf8'),
          event_ts: at,
          encoding: 'json',
          payload,
          topic: '(api-test)',
          partition: 0,
          record_offset: '0',
          record_ts: String(at),
          record_key: null,
          record_value: Buffer.from(
            `{"id":${JSON.stringify(eventId)},"event":${JSON.stringify(eventName)},` +
              `"id_project":${JSON.stringify(idProject)},"timestamp":${at},"payload":${payload.toString('utf8')}}`,
            'utf8',
          ),
          record_headers: {},
        };
        const id = webhookId(eventId, subscriptionId);
        // Logged like any event, so the delivery's attempts find their message. Best effort: a day
        // without a partition yet (23514) must not refuse the test.
        await client.query('savepoint log_message');
        try {
          await client.query(
            `insert into webhook_log_messages (logged_at, message_key, event_id, event_name, id_project,
                event_ts, encoding, payload, topic, partition, record_offset, record_ts, record_key,
                record_value, record_headers)
              values (now(), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
            [
              messageKeyOf(
                event.topic,
                event.partition,
                event.record_offset,
                event.record_ts,
                event.event_id,
              ),
              event.event_id,
              event.event_name,
              event.id_project,
              event.event_ts,
              event.encoding,
              event.payload,
              event.topic,
              event.partition,
              event.record_offset,
              event.record_ts,
              event.record_key,
              event.record_value,
              JSON.stringify(event.record_headers),
            ],
          );
          await client.query('release savepoint log_message');
        } catch (err) {
          if ((err as { code?: string }).code !== '23514') throw err;
          await client.query('rollback to savepoint log_message');
        }
        await park(client, [{ webhookId: id, subscriptionId, eventRef: null, seq: '0', message: event }]);
        return id;
      });
    },
  };
}
