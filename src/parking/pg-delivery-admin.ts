/**
 * The operator's view of the parked-delivery table (`webhook-connector deliveries ...`): listing rows and
 * making a parked one due now. Apart from `pg-delivery-store.ts`, which the delivery path uses: these
 * queries are rare, read whole rows, and never take a lease.
 */
import type { Pool } from 'pg';
import { ConnectorError, ErrorCode } from '../errors.js';
import type { DeliveryState } from './types.js';

export interface DeliveryRow {
  readonly id: string;
  readonly subscriptionId: string;
  readonly webhookId: string;
  readonly state: DeliveryState;
  /** parked_reason while parked, dead_reason once dead, null once delivered. */
  readonly reason: string | null;
  readonly attempts: number;
  readonly dueAt: Date;
  readonly finishedAt: Date | null;
  readonly createdAt: Date;
  readonly leaseOwner: string | null;
  readonly leaseUntil: Date | null;
  readonly lastStatus: number | null;
  readonly lastError: string | null;
  /** The subscription's `enabled`; null when it no longer exists. */
  readonly subscriptionEnabled: boolean | null;
}

export interface DeliveryListFilter {
  readonly subscriptionId?: string;
  readonly state?: DeliveryState;
  readonly limit: number;
}

export interface DeliveryAdmin {
  /** Newest first (created_at, then id). */
  list(filter: DeliveryListFilter): Promise<DeliveryRow[]>;
  /**
   * Makes a parked row due now and drops an expired lease, so the next claim of any runner takes it.
   * DELIVERY_NOT_FOUND for an unknown id, DELIVERY_NOT_PARKED for a delivered or dead one.
   */
  retryNow(id: string): Promise<DeliveryRow>;
}

const ms = (column: string): string => `(extract(epoch from ${column}) * 1000)::float8`;

const COLUMNS = [
  'd.id::text',
  'd.subscription_id',
  'd.webhook_id',
  'd.state',
  `case d.state when 'parked' then d.parked_reason when 'dead' then d.dead_reason end`,
  'd.attempts',
  ms('d.due_at'),
  ms('d.finished_at'),
  ms('d.created_at'),
  'd.lease_owner',
  ms('d.lease_until'),
  'd.last_status',
  'd.last_error',
  's.enabled',
].join(', ');

const FROM = 'webhook_deliveries d left join webhook_subscriptions s on s.id = d.subscription_id';

type Row = [
  string,
  string,
  string,
  DeliveryState,
  string | null,
  number,
  number,
  number | null,
  number,
  string | null,
  number | null,
  number | null,
  string | null,
  boolean | null,
];

const date = (v: number | null): Date | null => (v === null ? null : new Date(v));

function toDeliveryRow(r: Row): DeliveryRow {
  return {
    id: r[0],
    subscriptionId: r[1],
    webhookId: r[2],
    state: r[3],
    reason: r[4],
    attempts: r[5],
    dueAt: new Date(r[6]),
    finishedAt: date(r[7]),
    createdAt: new Date(r[8]),
    leaseOwner: r[9],
    leaseUntil: date(r[10]),
    lastStatus: r[11],
    lastError: r[12],
    subscriptionEnabled: r[13],
  };
}

export function createDeliveryAdmin(pool: Pool): DeliveryAdmin {
  async function select(where: string, tail: string, values: unknown[]): Promise<DeliveryRow[]> {
    const result = await pool.query<Row>({
      text: `select ${COLUMNS} from ${FROM} ${where} ${tail}`,
      values,
      rowMode: 'array',
    });
    return result.rows.map(toDeliveryRow);
  }

  return {
    async list(filter: DeliveryListFilter): Promise<DeliveryRow[]> {
      return select(
        `where ($1::text is null or d.subscription_id = $1) and ($2::text is null or d.state = $2)`,
        'order by d.created_at desc, d.id desc limit $3',
        [filter.subscriptionId ?? null, filter.state ?? null, filter.limit],
      );
    },

    async retryNow(id: string): Promise<DeliveryRow> {
      // A live lease is left alone: that attempt is running, and its result decides what happens next.
      const updated = await pool.query<{ id: string }>(
        `update webhook_deliveries
            set due_at = now(),
                lease_owner = case when lease_until > now() then lease_owner end,
                lease_until = case when lease_until > now() then lease_until end
          where id = $1::bigint and state = 'parked'
          returning id::text`,
        [id],
      );
      const row = (await select('where d.id = $1::bigint', '', [id]))[0];
      if (row === undefined) {
        throw new ConnectorError(ErrorCode.DELIVERY_NOT_FOUND, `no delivery with id ${id}`, { id });
      }
      if (updated.rowCount === 0) {
        throw new ConnectorError(
          ErrorCode.DELIVERY_NOT_PARKED,
          `delivery ${id} is ${row.state}, not parked: only a parked delivery can be retried` +
            (row.state === 'dead' ? ' (replay re-sends a dead letter)' : ''),
          { id, state: row.state },
        );
      }
      return row;
    },
  };
}
