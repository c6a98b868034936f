/**
 * Postgres's binary COPY format (https://www.postgresql.org/docs/current/sql-copy.html, "Binary Format"),
 * for the types the delivery log writes, into one growing Buffer (pure, no I/O). Each value is its type's
 * binary send form: a 4-byte length (-1: null) then the bytes. Text is UTF-8 (a JS string always encodes to
 * valid UTF-8; Postgres still refuses NUL in text, so callers clean texts that may hold one), bytea is the
 * raw bytes, jsonb is version byte 1 then the JSON text, timestamptz is microseconds since 2000-01-01 UTC as
 * an int64. Binary input is what Postgres parses fastest: no text parsing, no escaping, no hex.
 */

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** Postgres's epoch, 2000-01-01 UTC, in Unix epoch ms. */
const PG_EPOCH_MS = 946_684_800_000;
const TWO_32 = 4_294_967_296;

export class CopyBinaryEncoder {
  private buf: Buffer;
  /** The same memory as `buf`: fixed-width values through DataView's setters, which the JIT inlines. */
  private view: DataView;
  private at: number;

  constructor(initialBytes = 64 * 1024) {
    this.buf = Buffer.allocUnsafeSlow(Math.max(64, initialBytes));
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
    this.at = 0;
    this.reset();
  }

  /** Bytes of memory held (grown to the largest input encoded). */
  get capacity(): number {
    return this.buf.length;
  }

  /**
   * Starts a new COPY input in the same memory: the Buffer the last `finish()` returned is overwritten.
   * Reusing one encoder per table is what keeps the log off the garbage collector: a fresh multi-megabyte
   * Buffer per batch is external memory V8 counts toward its next full collection (see writer.ts).
   */
  reset(): this {
    SIGNATURE.copy(this.buf, 0);
    // Flags (no OIDs) and header extension length.
    this.view.setInt32(11, 0);
    this.view.setInt32(15, 0);
    this.at = 19;
    return this;
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.length);
  }

  /** Starts a row of `fields` values. */
  row(fields: number): this {
    this.room(2);
    this.view.setInt16(this.at, fields);
    this.at += 2;
    return this;
  }

  null(): this {
    this.room(4);
    this.view.setInt32(this.at, -1);
    this.at += 4;
    return this;
  }

  text(s: string | null): this {
    if (s === null) return this.null();
    // At most 3 bytes per UTF-16 unit (a surrogate pair is 2 units for 4 bytes).
    this.room(4 + s.length * 3);
    const n = this.buf.write(s, this.at + 4, 'utf8');
    this.view.setInt32(this.at, n);
    this.at += 4 + n;
    return this;
  }

  /** bytea holding a string's UTF-8 bytes (the same as `bytea(Buffer.from(s))`, without that Buffer). */
  utf8Bytea(s: string | null): this {
    return this.text(s);
  }

  /** jsonb: version 1, then the JSON text. */
  jsonb(json: string): this {
    this.room(5 + json.length * 3);
    this.buf[this.at + 4] = 1;
    const n = this.buf.write(json, this.at + 5, 'utf8');
    this.view.setInt32(this.at, n + 1);
    this.at += 5 + n;
    return this;
  }

  bytea(b: Buffer | null): this {
    if (b === null) return this.null();
    this.room(4 + b.length);
    this.view.setInt32(this.at, b.length);
    b.copy(this.buf, this.at + 4);
    this.at += 4 + b.length;
    return this;
  }

  int4(v: number | null): this {
    if (v === null) return this.null();
    this.room(8);
    this.view.setInt32(this.at, 4);
    this.view.setInt32(this.at + 4, v);
    this.at += 8;
    return this;
  }

  /** int8 from a decimal string (a Kafka offset), a number or a bigint. */
  int8(v: string | number | bigint): this {
    this.room(12);
    this.view.setInt32(this.at, 8);
    const n = typeof v === 'bigint' ? Number.NaN : Number(v);
    if (Number.isSafeInteger(n)) {
      // Two 32-bit halves: no BigInt per value (a Kafka offset is far below 2^53).
      const hi = Math.floor(n / TWO_32);
      this.view.setInt32(this.at + 4, hi);
      this.view.setUint32(this.at + 8, n - hi * TWO_32);
    } else {
      this.view.setBigInt64(this.at + 4, BigInt(v));
    }
    this.at += 12;
    return this;
  }

  float8(v: number | null): this {
    if (v === null) return this.null();
    this.room(12);
    this.view.setInt32(this.at, 8);
    this.view.setFloat64(this.at + 4, v);
    this.at += 12;
    return this;
  }

  bool(v: boolean): this {
    this.room(5);
    this.view.setInt32(this.at, 1);
    this.buf[this.at + 4] = v ? 1 : 0;
    this.at += 5;
    return this;
  }

  /** timestamptz from epoch milliseconds (fractions kept to the microsecond, as to_timestamp did). */
  timestamptzMs(ms: number): this {
    const us = Math.round((ms - PG_EPOCH_MS) * 1000);
    // int64 as two 32-bit halves: no BigInt per value (|us| < 2^53).
    const hi = Math.floor(us / TWO_32);
    this.room(12);
    this.view.setInt32(this.at, 8);
    this.view.setInt32(this.at + 4, hi);
    this.view.setUint32(this.at + 8, us - hi * TWO_32);
    this.at += 12;
    return this;
  }

  /** The whole COPY input: header, rows, trailer; valid until the next `reset()`. */
  finish(): Buffer {
    this.room(2);
    this.view.setInt16(this.at, -1);
    this.at += 2;
    return this.buf.subarray(0, this.at);
  }
}
