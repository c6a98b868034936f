/**
 * API keys of the management API: `whk_<id>_<secret>`, shown once at creation. Only sha256(secret) is
 * stored (webhook_api_keys, schemas/sql/003), compared in constant time. A project key acts on its
 * project; a platform key (no project) on every project. A revoked key is refused from the next request:
 * every request reads its row (one primary-key lookup), nothing is cached.
 */
import { createHash, randomBytes as cryptoRandomBytes, timingSafeEqual } from 'node:crypto';
import type { Pool } from 'pg';
import { ConnectorError, ErrorCode } from '../errors.js';

export interface ApiKeyInfo {
  readonly id: string;
  /** null for a platform key. */
  readonly idProject: string | null;
  readonly name: string;
  readonly createdAt: Date;
  readonly revokedAt: Date | null;
  readonly lastUsedAt: Date | null;
}

export interface ApiKeyStore {
  /** The new key's info and the whole key, which is not stored and cannot be shown again. */
  create(input: { idProject: string | null; name: string }): Promise<{ info: ApiKeyInfo; key: string }>;
  list(filter?: { idProject?: string }): Promise<ApiKeyInfo[]>;
  /** Idempotent (the first revocation time stays); USAGE when there is no such key. */
  revoke(id: string): Promise<ApiKeyInfo>;
  /** The key's info when it is well formed, known, not revoked and its secret matches; else undefined. */
  verify(key: string): Promise<ApiKeyInfo | undefined>;
}

const KEY = /^whk_([a-z0-9]{8,64})_([A-Za-z0-9_-]{16,128})$/;

/** `whk_<id>_<secret>` → its parts; undefined for anything else. */
export function parseApiKey(key: string): { id: string; secret: string } | undefined {
  const m = KEY.exec(key);
  return m === null ? undefined : { id: m[1]!, secret: m[2]! };
}

export const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** A new key: 16 lower-case base-36-ish id characters and a 256-bit base64url secret. */
export function newApiKey(random: (n: number) => Buffer = cryptoRandomBytes): {
  id: string;
  secret: string;
  key: string;
} {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const id = [...random(16)].map((b) => alphabet[b % alphabet.length]).join('');
  const secret = random(32).toString('base64url');
  return { id, secret, key: `whk_${id}_${secret}` };
}

const COLUMNS = 'id, id_project, name, created_at, revoked_at, last_used_at';
type Row = {
  id: string;
  id_project: string | null;
  name: string;
  created_at: Date;
  revoked_at: Date | null;
  last_used_at: Date | null;
};
const toInfo = (r: Row): ApiKeyInfo => ({
  id: r.id,
  idProject: r.id_project,
  name: r.name,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
  lastUsedAt: r.last_used_at,
});

/** Compared against when the id is unknown, so an unknown id costs the same as a wrong secret. */
const DUMMY_HASH = sha256('');

export function createApiKeyStore(pool: Pool, random?: (n: number) => Buffer): ApiKeyStore {
  return {
    async create({ idProject, name }) {
      if (idProject !== null && (idProject.trim() === '' || idProject.length > 256)) {
        throw new ConnectorError(ErrorCode.USAGE, 'the project must be 1 to 256 characters');
      }
      const k = newApiKey(random);
      const r = await pool.query<Row>(
        `insert into webhook_api_keys (id, id_project, name, secret_sha256) values ($1, $2, $3, $4)
         returning ${COLUMNS}`,
        [k.id, idProject, name, sha256(k.secret)],
      );
      return { info: toInfo(r.rows[0]!), key: k.key };
    },

    async list(filter = {}) {
      const r =
        filter.idProject === undefined
          ? await pool.query<Row>(`select ${COLUMNS} from webhook_api_keys order by created_at, id`)
          : await pool.query<Row>(
              `select ${COLUMNS} from webhook_api_keys where id_project = $1 order by created_at, id`,
              [filter.idProject],
            );
      return r.rows.map(toInfo);
    },

    async revoke(id) {
      const r = await pool.query<Row>(
        `update webhook_api_keys set revoked_at = coalesce(revoked_at, now()) where id = $1 returning ${COLUMNS}`,
        [id],
      );
      if (r.rows[0] === undefined) {
        throw new ConnectorError(ErrorCode.USAGE, `no API key with id ${JSON.stringify(id)}`);
      }
      return toInfo(r.rows[0]);
    },

    async verify(key) {
      const parts = parseApiKey(key);
      if (parts === undefined) return undefined;
      const r = await pool.query<Row & { secret_sha256: Buffer }>(
        `select ${COLUMNS}, secret_sha256 from webhook_api_keys where id = $1 and revoked_at is null`,
        [parts.id],
      );
      const row = r.rows[0];
      const matches = timingSafeEqual(row?.secret_sha256 ?? DUMMY_HASH, sha256(parts.secret));
      if (row === undefined || !matches) return undefined;
      // At most one write a minute per key: a busy key does not turn every read into a write.
      if (row.last_used_at === null || Date.now() - row.last_used_at.getTime() > 60_000) {
        pool
          .query('update webhook_api_keys set last_used_at = now() where id = $1', [row.id])
          .catch(() => undefined);
      }
      return toInfo(row);
    },
  };
}
