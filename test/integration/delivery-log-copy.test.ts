/**
 * The binary COPY encoder (src/delivery-log/copy-binary.ts) against a real Postgres: odd values of every
 * type it writes come back exactly as sent.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { CopyBinaryEncoder } from '../../src/delivery-log/copy-binary.js';
import { createTestDatabase, testPool, type TestDatabase } from '../support/pg.js';

let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase('delivery_log_copy');
  pool = testPool(db.url, 'delivery_log_copy');
  await pool.query(`create table t (n int, ts timestamptz, tx text, b bytea, i int, big bigint,
    f double precision, ok boolean, j jsonb)`);
});
afterAll(async () => {
  await pool.end();
  await db.drop();
});

interface Row {
  readonly ts: number | null;
  readonly tx: string | null;
  readonly b: Buffer | null;
  readonly i: number | null;
  readonly big: string;
  readonly f: number | null;
  readonly ok: boolean;
  readonly j: string;
}

async function roundTrip(rows: readonly Row[]): Promise<Record<string, unknown>[]> {
  const e = new CopyBinaryEncoder(16);
  rows.forEach((r, n) => {
    e.row(9).int4(n);
    if (r.ts === null) e.null();
    else e.timestamptzMs(r.ts);
    e.text(r.tx).bytea(r.b).int4(r.i).int8(r.big).float8(r.f).bool(r.ok).jsonb(r.j);
  });
  return copyIn(
    e,
    `select n, (extract(epoch from ts) * 1000)::float8 as ts_ms, ts::text as ts_text, tx, b, i, big::text,
      f, ok, j::text from t order by n`,
  );
}

/** Replaces t's rows with the encoder's input, then runs `select`. */
async function copyIn(e: CopyBinaryEncoder, select: string): Promise<Record<string, unknown>[]> {
  const client = await pool.connect();
  try {
    await client.query('truncate t');
    const stream = client.query(copyFrom('copy t from stdin (format binary)'));
    stream.end(e.finish());
    await finished(stream);
    return (await client.query(select)).rows as Record<string, unknown>[];
  } finally {
    client.release();
  }
}

it('writes text, bytea, int4, int8, float8, bool, jsonb and timestamptz that read back as sent', async () => {
  const rows: Row[] = [
    {
      ts: Date.UTC(2026, 11, 7, 1, 2, 3, 456),
      tx: 'emoji 😀 and ünïcödé, quotes \' " \\ and a tab\t',
      b: Buffer.from([0, 1, 2, 255, 0]),
      i: -2_147_483_648,
      big: '9223372036854775807',
      f: 5e-324,
      ok: true,
      j: '{"k":["aGk=","😀"],"n":null}',
    },
    {
      ts: Date.UTC(1969, 0, 1, 0, 0, 0, 1),
      tx: '',
      b: Buffer.alloc(0),
      i: 2_147_483_647,
      big: '-9223372036854775808',
      f: 1.7976931348623157e308,
      ok: false,
      j: '{}',
    },
    { ts: null, tx: null, b: null, i: null, big: '0', f: null, ok: false, j: '[]' },
    {
      // Before 2000-01-01 (a negative int64) and a fraction of a millisecond.
      ts: Date.UTC(1999, 11, 31, 23, 59, 59, 999) + 0.25,
      tx: 'x'.repeat(100_000),
      b: Buffer.alloc(70_000, 7),
      i: 0,
      big: '123456789012',
      f: -0.1,
      ok: true,
      j: '"a string"',
    },
    // int8 around 2^53: below it two 32-bit halves, past it a BigInt, both exact.
    { ts: 0, tx: 'a', b: null, i: 1, big: '9007199254740991', f: 0, ok: true, j: '{}' },
    { ts: 0, tx: 'b', b: null, i: 2, big: '9007199254740993', f: 0, ok: true, j: '{}' },
    { ts: 0, tx: 'c', b: null, i: 3, big: '-4294967297', f: 0, ok: true, j: '{}' },
  ];
  const out = await roundTrip(rows);
  expect(out).toHaveLength(rows.length);
  out.forEach((o, n) => {
    const r = rows[n]!;
    expect(o.ts_ms).toBe(r.ts === null ? null : Math.round(r.ts * 1000) / 1000);
    expect(o.tx).toBe(r.tx);
    expect(o.b).toEqual(r.b);
    expect(o.i).toBe(r.i);
    expect(o.big).toBe(r.big);
    expect(o.f).toBe(r.f);
    expect(o.ok).toBe(r.ok);
    expect(JSON.parse(o.j as string)).toEqual(JSON.parse(r.j));
  });
  expect(out[0]!.ts_text).toBe('2026-12-07 01:02:03.456+00');
  expect(out[3]!.ts_text).toBe('1999-12-31 23:59:59.99925+00');
});

it('is refused by Postgres for a NUL in text (the writer cleans such texts first)', async () => {
  const row: Row = { ts: 0, tx: 'a\u0000b', b: null, i: 1, big: '1', f: 1, ok: true, j: '{}' };
  await expect(roundTrip([row])).rejects.toMatchObject({ code: '22021' });
});

it('writes a string as the bytea of its UTF-8 bytes (utf8Bytea), null as null', async () => {
  const e = new CopyBinaryEncoder(16);
  for (const [n, v] of [
    [0, 'project-\u00fcn\u00ef\ud83d\ude00'] as const,
    [1, null] as const,
    [2, ''] as const,
  ]) {
    e.row(9).int4(n).null().text(null).utf8Bytea(v).int4(null).int8(0).float8(null).bool(false).jsonb('{}');
  }
  const rows = await copyIn(e, 'select b from t order by n');
  expect(rows.map((r) => r.b)).toEqual([
    Buffer.from('project-\u00fcn\u00ef\ud83d\ude00', 'utf8'),
    null,
    Buffer.alloc(0),
  ]);
});
