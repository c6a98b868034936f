/**
 * `SubscriptionStore` on Postgres. Rows are fetched as arrays with timestamps as epoch-ms floats, so a
 * full load of 100,000 rows costs no per-row key objects nor date-string parsing (see `loadEnabled`).
 *
 * The snapshot's rows (loadEnabled, loadByIds) are kept in memory for as long as they are current, so they
 * are stored compactly (`SnapshotSubscription`): times as numbers with Date getters, and the strings that
 * repeat across rows (project, event, target, creator) shared instead of one copy per row.
 *
 * About 390 lines: one store, one table; the SQL, the row mapping and the compact snapshot rows
 * change together.
 */
import type { Pool } from 'pg';
import { ConnectorError, ErrorCode } from '../errors.js';
import { generateSecret, type RandomBytes } from './secret.js';
import {
  SUBSCRIPTION_ORDERINGS,
  type NewSubscription,
  type Subscription,
  type SubscriptionInfo,
  type SubscriptionChange,
  type SubscriptionOrdering,
  type SubscriptionStore,
} from './types.js';
import { assertValidSubscription, subscriptionChangeProblems } from './validate.js';

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
  'ordering',
  'disabled_reason',
  ms('disabled_at'),
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
  string,
  string | null,
  number | null,
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
    ordering: r[12] as SubscriptionOrdering,
    disabledReason: r[13],
    disabledAt: r[14] === null ? null : new Date(r[14]),
  };
}

function assertOrdering(ordering: unknown): asserts ordering is SubscriptionOrdering {
  if (!SUBSCRIPTION_ORDERINGS.includes(ordering as SubscriptionOrdering)) {
    throw new ConnectorError(
      ErrorCode.SUBSCRIPTION_INVALID,
      `ordering must be ${SUBSCRIPTION_ORDERINGS.join(' or ')}, got ${JSON.stringify(ordering)}`,
    );
  }
}

/**
 * A snapshot row: about half the memory of a plain Subscription (no Date objects: three per row were a
 * fifth of a 100,000-row snapshot's heap). The Date getters build a Date on each read; nothing on the
 * delivery path reads them per delivery (the hook JSON is built once per subscription).
 */
class SnapshotSubscription implements Subscription {
  readonly id: string;
  readonly idProject: string;
  readonly event: string;
  readonly target: string;
  readonly secret: string;
  readonly previousSecret: string | null;
  readonly global: boolean;
  readonly enabled: boolean;
  readonly ordering: SubscriptionOrdering;
  readonly disabledReason: string | null;
  readonly createdBy: string;
  private readonly previousSecretExpiresAtMs: number | null;
  private readonly createdAtMs: number;
  private readonly updatedAtMs: number;
  private readonly disabledAtMs: number | null;

  constructor(r: Row, intern: (v: string) => string) {
    this.id = r[0];
    this.idProject = intern(r[1]);
    this.event = intern(r[2]);
    this.target = intern(r[3]);
    this.secret = r[4];
    this.previousSecret = r[5];
    this.previousSecretExpiresAtMs = r[6];
    this.global = r[7];
    this.enabled = r[8];
    this.createdBy = intern(r[9]);
    this.createdAtMs = r[10];
    this.updatedAtMs = r[11];
    this.ordering = r[12] as SubscriptionOrdering;
    this.disabledReason = r[13];
    this.disabledAtMs = r[14];
  }

  get previousSecretExpiresAt(): Date | null {
    return this.previousSecretExpiresAtMs === null ? null : new Date(this.previousSecretExpiresAtMs);
  }

  get createdAt(): Date {
    return new Date(this.createdAtMs);
  }

  get updatedAt(): Date {
    return new Date(this.updatedAtMs);
  }

  get disabledAt(): Date | null {
    return this.disabledAtMs === null ? null : new Date(this.disabledAtMs);
  }

  /** The same shape as a plain Subscription when logged or serialised. */
  toJSON(): Subscription {
    return {
      id: this.id,
      idProject: this.idProject,
      event: this.event,
      target: this.target,
      secret: this.secret,
      previousSecret: this.previousSecret,
      previousSecretExpiresAt: this.previousSecretExpiresAt,
      global: this.global,
      enabled: this.enabled,
      ordering: this.ordering,
      disabledReason: this.disabledReason,
      disabledAt: this.disabledAt,
      createdBy: this.createdBy,
      createdAt: this.createdAt,
      updatedAt: this.updatedAt,
    };
  }
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
  /** Rows per query of a snapshot load (default 10,000). */
  readonly snapshotPageRows?: number;
}

export function createSubscriptionStore(
  pool: Pool,
  options: SubscriptionStoreOptions = {},
): SubscriptionStore {
  const pageRows = options.snapshotPageRows ?? 10_000;
  async function select(where: string, params: unknown[]): Promise<Subscription[]> {
    const result = await pool.query<Row>({
      text: `select ${COLUMNS} from webhook_subscriptions ${where}`,
      values: params,
      rowMode: 'array',
    });
    return result.rows.map(toSubscription);
  }

  /**
   * Rows for the in-memory snapshot, read in pages (`snapshotPageRows`) (keyset on the primary key)
   * inside one REPEATABLE READ transaction: the pages together are one consistent snapshot, and the raw
   * rows of only one page exist at a time next to the subscriptions built so far (a 100,000-row load
   * no longer holds the whole raw result and its protocol buffers at once: lower peak memory).
   */
  async function selectForSnapshot(where: string, params: unknown[]): Promise<Subscription[]> {
    // An explicit client, not pool.query(): pg-pool's pool.query() on a client it has just opened leaves
    // the query's result reachable from that client's connect listener for the client's whole life (found
    // in a heap snapshot: a 100,000-row load kept twice as long as the connection stayed in the pool).
    const client = await pool.connect();
    const shared = new Map<string, string>();
    const intern = (v: string): string => {
      const known = shared.get(v);
      if (known !== undefined) return known;
      shared.set(v, v);
      return v;
    };
    const out: Subscription[] = [];
    let failed = false;
    try {
      await client.query('begin isolation level repeatable read read only');
      let after = '';
      for (;;) {
        const page = await client.query<Row>({
          text: `select ${COLUMNS} from webhook_subscriptions ${where} and id > $${params.length + 1} order by id limit ${pageRows}`,
          values: [...params, after],
          rowMode: 'array',
        });
        for (const r of page.rows) out.push(new SnapshotSubscription(r, intern));
        if (page.rows.length < pageRows) break;
        after = page.rows[page.rows.length - 1]![0];
      }
      await client.query('commit');
    } catch (err) {
      failed = true;
      throw err;
    } finally {
      // A connection whose transaction failed half-way is not handed back to the pool.
      client.release(failed);
    }
    return out;
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
      const ordering = input.ordering ?? 'concurrent';
      assertOrdering(ordering);
      const secret = input.secret ?? generateSecret(options.randomBytes);
      try {
        const result = await pool.query<Row>({
          text: `insert into webhook_subscriptions (id_project, event, target, secret, global, created_by, ordering)
                 values ($1, $2, $3, $4, $5, $6, $7) returning ${COLUMNS}`,
          values: [
            input.idProject,
            input.event,
            input.target,
            secret,
            input.global ?? false,
            input.createdBy,
            ordering,
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

    async findByKey(idProject: string, event: string, target: string): Promise<Subscription | undefined> {
      return (
        await select('where id_project = $1 and event = $2 and target = $3', [idProject, event, target])
      )[0];
    },

    async update(id: string, change: SubscriptionChange): Promise<SubscriptionInfo> {
      const problems = subscriptionChangeProblems(change);
      if (problems.length > 0) {
        throw new ConnectorError(
          ErrorCode.SUBSCRIPTION_INVALID,
          `invalid subscription: ${problems.join('; ')}`,
          { problems },
        );
      }
      try {
        return withoutSecrets(
          await updateOne(id, 'event = coalesce($2, event), target = coalesce($3, target)', [
            change.event ?? null,
            change.target ?? null,
          ]),
        );
      } catch (err) {
        if (sqlState(err) !== '23505') throw err;
        throw new ConnectorError(
          ErrorCode.SUBSCRIPTION_INVALID,
          'the project already has a subscription of that event to that target',
          { id },
          { cause: err },
        );
      }
    },

    async remove(id: string): Promise<void> {
      const result = await pool.query('delete from webhook_subscriptions where id = $1', [id]);
      if (result.rowCount === 0) throw notFound(id);
    },

    async setEnabled(id: string, enabled: boolean, reason = 'operator'): Promise<SubscriptionInfo> {
      // Disabling an already disabled subscription keeps its first reason and time (why it stopped).
      return withoutSecrets(
        await updateOne(
          id,
          `disabled_reason = case when $2::boolean then null when enabled then $3::text else disabled_reason end,
           disabled_at = case when $2::boolean then null when enabled then now() else disabled_at end,
           enabled = $2`,
          [enabled, reason],
        ),
      );
    },

    async setOrdering(id: string, ordering: SubscriptionOrdering): Promise<SubscriptionInfo> {
      assertOrdering(ordering);
      return withoutSecrets(await updateOne(id, 'ordering = $2', [ordering]));
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

    loadEnabled: () => selectForSnapshot('where enabled', []),

    loadByIds: (ids: readonly string[]) => selectForSnapshot('where id = any($1::text[])', [ids]),
  };
}
