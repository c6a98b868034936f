import { describe, expect, it } from '@jest/globals';
import { decodeRecord, type DecodeResult, type RegistryDecoder } from '../../../src/events/decode-record.js';
import type { RecordCoordinates } from '../../../src/events/event.js';

const AT: RecordCoordinates = { topic: 'tiledesk.events', partition: 3, offset: '1234' };
const OPTS = { maxRecordBytes: 1_048_576 };

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v), 'utf8');
const valid = {
  id: 'evt-1',
  event: 'message.create.request.channel.whatsapp',
  id_project: 'P1',
  timestamp: 1_772_366_400_123,
  payload: { _id: 'm1', text: 'ciao ✓', attributes: { n: [1, 2] } },
};

function poison(r: DecodeResult): { reason: string; message: string } {
  if (r.ok) throw new Error(`expected a poison result, got event ${r.event.id}`);
  return r;
}

describe('decodeRecord: plain JSON', () => {
  it('decodes a valid event', async () => {
    const r = await decodeRecord(json(valid), AT, OPTS);
    expect(r).toEqual({
      ok: true,
      event: {
        id: 'evt-1',
        event: 'message.create.request.channel.whatsapp',
        idProject: 'P1',
        timestamp: 1_772_366_400_123,
        payload: Buffer.from(JSON.stringify(valid.payload)),
        encoding: 'json',
      },
    });
  });

  it('derives <topic>-<partition>-<offset> as id when the producer gave none, the same on every redelivery', async () => {
    const noId: Partial<typeof valid> = { ...valid };
    delete noId.id;
    const a = await decodeRecord(json(noId), AT, OPTS);
    const b = await decodeRecord(json(noId), AT, OPTS);
    expect(a.ok && a.event.id).toBe('tiledesk.events-3-1234');
    expect(b.ok && b.event.id).toBe('tiledesk.events-3-1234');
    const other = await decodeRecord(json(noId), { ...AT, offset: '1235' }, OPTS);
    expect(other.ok && other.event.id).toBe('tiledesk.events-3-1235');
  });

  it('accepts a null or absent id_project (platform events) and extra fields', async () => {
    const r = await decodeRecord(json({ ...valid, id_project: null, extra: { x: 1 } }), AT, OPTS);
    expect(r.ok && r.event.idProject).toBeNull();
    const noProject: Partial<typeof valid> = { ...valid };
    delete noProject.id_project;
    const r2 = await decodeRecord(json(noProject), AT, OPTS);
    expect(r2.ok && r2.event.idProject).toBeNull();
  });

  it('accepts a UTF-8 byte-order mark', async () => {
    const r = await decodeRecord(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), json(valid)]), AT, OPTS);
    expect(r.ok).toBe(true);
  });
});

describe('decodeRecord: poison records', () => {
  it('a null or empty value is empty', async () => {
    expect(poison(await decodeRecord(null, AT, OPTS)).reason).toBe('empty');
    expect(poison(await decodeRecord(Buffer.alloc(0), AT, OPTS)).reason).toBe('empty');
  });

  it('a value over the limit is too_large, with the sizes in the message', async () => {
    const big = json({ ...valid, payload: { blob: 'x'.repeat(2_000) } });
    const p = poison(await decodeRecord(big, AT, { maxRecordBytes: 1_024 }));
    expect(p.reason).toBe('too_large');
    expect(p.message).toContain(String(big.length));
    expect(p.message).toContain('1024');
    expect((await decodeRecord(big, AT, { maxRecordBytes: big.length })).ok).toBe(true);
  });

  it('non-UTF-8 bytes are undecodable', async () => {
    const bytes = Buffer.concat([
      Buffer.from('{"event":"request.create","timestamp":1,"payload":{"t":"'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}}'),
    ]);
    const p = poison(await decodeRecord(bytes, AT, OPTS));
    expect(p.reason).toBe('undecodable');
    expect(p.message).toMatch(/UTF-8/);
  });

  it('text that is not JSON is undecodable', async () => {
    for (const text of ['not json', '{"event":', "{'event':'x'}", 'request.create']) {
      expect(poison(await decodeRecord(Buffer.from(text), AT, OPTS)).reason).toBe('undecodable');
    }
  });

  // [what, value, a fragment the readable message must contain]
  const invalid: [string, unknown, RegExp][] = [
    ['missing event', { timestamp: 1, payload: {} }, /event/],
    ['event with CR/LF', { event: 'request.create\r\nX-Evil: 1', timestamp: 1, payload: {} }, /\/event/],
    ['event with a trailing newline', { event: 'request.create\n', timestamp: 1, payload: {} }, /\/event/],
    ['event with a space', { event: 'request create', timestamp: 1, payload: {} }, /\/event/],
    [
      'timestamp as a string',
      { event: 'request.create', timestamp: '2026-03-01T00:00:00Z', payload: {} },
      /\/timestamp/,
    ],
    ['fractional timestamp', { event: 'request.create', timestamp: 1.5, payload: {} }, /\/timestamp/],
    ['negative timestamp', { event: 'request.create', timestamp: -1, payload: {} }, /\/timestamp/],
    ['payload as an array', { event: 'request.create', timestamp: 1, payload: [1, 2] }, /\/payload/],
    ['payload null', { event: 'request.create', timestamp: 1, payload: null }, /\/payload/],
    ['missing payload', { event: 'request.create', timestamp: 1 }, /payload/],
    ['id with a space', { id: 'a b', event: 'request.create', timestamp: 1, payload: {} }, /\/id/],
    ['empty id', { id: '', event: 'request.create', timestamp: 1, payload: {} }, /\/id/],
    [
      'numeric id_project',
      { event: 'request.create', id_project: 5, timestamp: 1, payload: {} },
      /\/id_project/,
    ],
    ['an array instead of an event', [valid], /\(root\)/],
    ['a JSON string', 'request.create', /\(root\)/],
  ];

  it.each(invalid)('%s is invalid with a readable message', async (_what, value, fragment) => {
    const p = poison(await decodeRecord(json(value), AT, OPTS));
    expect(p.reason).toBe('invalid');
    expect(p.message).toMatch(fragment);
    expect(p.message.length).toBeLessThan(300);
  });

  it('a 100k-level nested payload does not crash and is a poison record', async () => {
    const depth = 100_000;
    const text = `{"event":"request.create","timestamp":1,"payload":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`;
    const r = await decodeRecord(Buffer.from(text), AT, { maxRecordBytes: 10_000_000 });
    expect(r.ok).toBe(false);
    expect(['invalid', 'undecodable']).toContain(poison(r).reason);
  });

  it('a 100k-level nested array payload does not crash either', async () => {
    const depth = 100_000;
    const text = `{"event":"request.create","timestamp":1,"payload":{"x":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
    const r = await decodeRecord(Buffer.from(text), AT, { maxRecordBytes: 10_000_000 });
    expect(r.ok).toBe(false);
  });
});

describe('decodeRecord: Schema-Registry framing', () => {
  const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, 7]), Buffer.from('avro-bytes')]);

  it('magic byte 0 without a registry is undecodable, saying why', async () => {
    const p = poison(await decodeRecord(framed, AT, OPTS));
    expect(p.reason).toBe('undecodable');
    expect(p.message).toMatch(/SCHEMA_REGISTRY_URL/);
  });

  it('decodes through the registry and validates the result', async () => {
    const seen: Buffer[] = [];
    const registry: RegistryDecoder = {
      decode: async (value) => {
        seen.push(value);
        return { ok: true, value: { ...valid, id: undefined } };
      },
    };
    const r = await decodeRecord(framed, AT, { ...OPTS, registry });
    expect(seen).toEqual([framed]);
    expect(r.ok && r.event.encoding).toBe('avro');
    expect(r.ok && r.event.id).toBe('tiledesk.events-3-1234');
  });

  it("passes on the registry's own poison verdicts and validates what it decoded", async () => {
    const unknown: RegistryDecoder = {
      decode: async () => ({ ok: false, reason: 'unknown_schema', message: 'schema 7 not found' }),
    };
    expect(poison(await decodeRecord(framed, AT, { ...OPTS, registry: unknown }))).toMatchObject({
      reason: 'unknown_schema',
    });
    const bad: RegistryDecoder = {
      decode: async () => ({ ok: true, value: { event: 'x', timestamp: 'yesterday', payload: {} } }),
    };
    expect(poison(await decodeRecord(framed, AT, { ...OPTS, registry: bad })).reason).toBe('invalid');
  });

  it('does not ask the registry about plain JSON', async () => {
    let calls = 0;
    const registry: RegistryDecoder = {
      decode: async () => {
        calls++;
        return { ok: false, reason: 'undecodable', message: '' };
      },
    };
    expect((await decodeRecord(json(valid), AT, { ...OPTS, registry })).ok).toBe(true);
    expect(calls).toBe(0);
  });
});
