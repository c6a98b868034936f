/**
 * `SubscriptionStore` on Postgres. Rows are fetched as arrays with timestamps as epoch-ms floats, so a
 * full load of 100,000 rows costs no per-row key objects nor date-string parsing (see `loadEnabled`).
 */
import type { Pool } from 'pg';
import { ConnectorError, ErrorCode } from '../errors.js';
import { generateSecret, type RandomBytes } from './secret.js';
import type { NewSubscription, Subscription, SubscriptionInfo, SubscriptionStore } from './types.js';
import { assertValidSubscription } from './validate.js';

const ms = (column: string): string => `(extract(epoch from ${column}) * 1000)::float8`;

/** Column order is the index order used by `toSubscription`. */
const COLUMNS = [
  'id',
  'id_project',
  'event',
  'target',
  'secret',
  'previous_secret',
  ms('previous_secret_expires_at'),
  'global',
  'enabled',
  'created_by',
  ms('created_at'),
  ms('updated_at'),
].join(', ');

type Row = [
  string,
  string,
  string,
  string,
  string,
  string | null,
  number | null,
  boolean,
  boolean,
  string,
  number,
  number,
];

function toSubscription(r: Row): Subscription {
  return {
    id: r[0],
    idProject: r[1],
    event: r[2],
    target: r[3],
    secret: r[4],
    previousSecret: r[5],
    previousSecretExpiresAt: r[6] === null ? null : new Date(r[6]),
    global: r[7],
    enabled: r[8],
    createdBy: r[9],
    createdAt: new Date(r[10]),
    updatedAt: new Date(r[11]),
  };
}

function withoutSecrets(s: Subscription): SubscriptionInfo {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { secret: _secret, previousSecret: _previous, ...info } = s;
  return info;
}

function notFound(id: string): ConnectorError {
  return new ConnectorError(ErrorCode.SUBSCRIPTION_NOT_FOUND, `no subscription with id "${id}"`, { id });
}

function sqlState(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}

export interface SubscriptionStoreOptions {
  /** CSPRNG for generated secrets; injectable for tests. */
  readonly randomBytes?: RandomBytes;
}

export function createSubscriptionStore(
  pool: Pool,
  options: SubscriptionStoreOptions = {},
): SubscriptionStore {
  async function select(where: string, params: unknown[]): Promise<Subscription[]> {
    const result = await pool.query<Row>({
      text: `select ${COLUMNS} from webhook_subscriptions ${where}`,
      values: params,
      rowMode: 'array',
    });
    return result.rows.map(toSubscription);
  }

  async function updateOne(id: string, set: string, params: unknown[]): Promise<Subscription> {
    const result = await pool.query<Row>({
      text: `update webhook_subscriptions set ${set} where id = $1 returning ${COLUMNS}`,
      values: [id, ...params],
      rowMode: 'array',
    });
    const row = result.rows[0];
    if (row === undefined) throw notFound(id);
    return toSubscription(row);
  }

  return {
    async add(input: NewSubscription): Promise<Subscription> {
      assertValidSubscription(input);
      const secret = input.secret ?? generateSecret(options.randomBytes);
      try {
        const result = await pool.query<Row>({
          text: `insert into webhook_subscriptions (id_project, event, target, secret, global, created_by)
                 values ($1, $2, $3, $4, $5, $6) returning ${COLUMNS}`,
          values: [
            input.idProject,
            input.event,
            input.target,
            secret,
            input.global ?? false,
            input.createdBy,
          ],
          rowMode: 'array',
        });
        return toSubscription(result.rows[0] as Row);
      } catch (err) {
        if (sqlState(err) === '23514') {
          // Not chained: a CHECK violation's `detail` is the whole row, secret included.
          const constraint = (err as { constraint?: string }).constraint;
          throw new ConnectorError(
            ErrorCode.SUBSCRIPTION_INVALID,
            `invalid subscription: rejected by ${constraint}`,
          );
        }
        if (sqlState(err) !== '23505') throw err;
        throw new ConnectorError(
          ErrorCode.SUBSCRIPTION_INVALID,
          `project "${input.idProject}" already has a subscription of event "${input.event}" to ${input.target}`,
          { idProject: input.idProject, event: input.event },
          { cause: err },
        );
      }
    },

    async list(filter = {}): Promise<SubscriptionInfo[]> {
      const rows =
        filter.idProject === undefined
          ? await select('order by id_project, event, created_at', [])
          : await select('where id_project = $1 order by event, created_at', [filter.idProject]);
      return rows.map(withoutSecrets);
    },

    async get(id: string): Promise<Subscription | undefined> {
      return (await select('where id = $1', [id]))[0];
    },

    async remove(id: string): Promise<void> {
      const result = await pool.query('delete from webhook_subscriptions where id = $1', [id]);
      if (result.rowCount === 0) throw notFound(id);
    },

    async setEnabled(id: string, enabled: boolean): Promise<SubscriptionInfo> {
      return withoutSecrets(await updateOne(id, 'enabled = $2', [enabled]));
    },

    async rotateSecret(id: string, overlapMs: number): Promise<string> {
      if (!Number.isSafeInteger(overlapMs) || overlapMs < 0) {
        throw new ConnectorError(
          ErrorCode.SUBSCRIPTION_INVALID,
          `overlap must be a whole number of ms >= 0, got ${overlapMs}`,
        );
      }
      const keepOld = overlapMs > 0;
      const row = await updateOne(
        id,
        `previous_secret = case when $3::boolean then secret end,
         previous_secret_expires_at = case when $3::boolean then now() + $4::float8 * interval '1 millisecond' end,
         secret = $2`,
        [generateSecret(options.randomBytes), keepOld, overlapMs],
      );
      return row.secret;
    },

    loadEnabled: () => select('where enabled', []),

    loadByIds: (ids: readonly string[]) => select('where id = any($1::text[])', [ids]),
  };
}
