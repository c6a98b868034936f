import { describe, expect, it } from '@jest/globals';
import { buildDeadLetterRecord } from '../../../src/dead-letter/dead-letter-record.js';
import type { InboundRecord } from '../../../src/events/event.js';
import { loadConfig } from '../../../src/config.js';
import { parseReplayArgs, REPLAY_USAGE, replayDeliverDeps } from '../../../src/commands/replay.js';
import type { WebhookTransport } from '../../../src/transport/types.js';
import { replayVerdict, type ReplayFilter } from '../../../src/dead-letter/replay.js';
import { ErrorCode, isConnectorError } from '../../../src/errors.js';

const RECORD_TS = Date.parse('2026-03-01T00:00:00Z');
const LAST_ATTEMPT = Date.parse('2026-03-01T12:00:00Z');
const all: ReplayFilter = { subscriptionIds: [], events: [] };

const original: InboundRecord = {
  topic: 'tiledesk.events',
  partition: 0,
  offset: '10',
  timestamp: String(RECORD_TS),
  key: Buffer.from('P1'),
  value: Buffer.from('{}'),
  headers: {},
};

/** Headers as a consumer of the dead-letter topic sees them: Buffers, as kafkajs delivers them. */
function dlqHeaders(info: Parameters<typeof buildDeadLetterRecord>[1]): InboundRecord['headers'] {
  const built = buildDeadLetterRecord(original, info).headers;
  return Object.fromEntries(
    Object.entries(built).map(([k, v]) => [
      k,
      Array.isArray(v) ? v.map((x) => Buffer.from(x)) : Buffer.from(v),
    ]),
  );
}

const delivery = dlqHeaders({
  reason: 'retries_exhausted',
  event: 'request.create',
  subscriptionId: 'sub-1',
  attempts: 6,
  lastAttemptAt: LAST_ATTEMPT,
});

describe('replayVerdict', () => {
  it('replays a failed delivery to its subscription', () => {
    expect(replayVerdict(delivery, RECORD_TS, all)).toEqual({ kind: 'replay', subscriptionId: 'sub-1' });
  });

  it('skips poison records (no subscription to deliver to), saying why', () => {
    const poison = dlqHeaders({ reason: 'invalid', error: 'bad' });
    const v = replayVerdict(poison, RECORD_TS, all);
    expect(v.kind).toBe('skip');
    expect(v.kind === 'skip' && v.why).toMatch(/poison/);
  });

  it('filters by subscription (any of several)', () => {
    expect(replayVerdict(delivery, RECORD_TS, { ...all, subscriptionIds: ['sub-2', 'sub-1'] }).kind).toBe(
      'replay',
    );
    expect(replayVerdict(delivery, RECORD_TS, { ...all, subscriptionIds: ['sub-2'] })).toEqual({
      kind: 'skip',
      why: 'filtered',
    });
  });

  it('filters by exact event name', () => {
    expect(replayVerdict(delivery, RECORD_TS, { ...all, events: ['request.create'] }).kind).toBe('replay');
    expect(replayVerdict(delivery, RECORD_TS, { ...all, events: ['request'] }).kind).toBe('skip');
    expect(replayVerdict(delivery, RECORD_TS, { ...all, events: ['request.close'] }).kind).toBe('skip');
    const noEvent = dlqHeaders({ reason: 'http_4xx', subscriptionId: 'sub-1' });
    expect(replayVerdict(noEvent, RECORD_TS, { ...all, events: ['request.create'] }).kind).toBe('skip');
  });

  it('filters by the last attempt time, bounds inclusive', () => {
    const v = (since?: number, until?: number) =>
      replayVerdict(delivery, RECORD_TS, { ...all, since, until }).kind;
    expect(v(LAST_ATTEMPT, LAST_ATTEMPT)).toBe('replay');
    expect(v(LAST_ATTEMPT - 1)).toBe('replay');
    expect(v(LAST_ATTEMPT + 1)).toBe('skip');
    expect(v(undefined, LAST_ATTEMPT - 1)).toBe('skip');
    // The record's own timestamp is earlier and in range, but the last attempt time decides.
    expect(v(RECORD_TS - 1, RECORD_TS + 1)).toBe('skip');
  });

  it("falls back to the dead letter's record timestamp when it has no last attempt time", () => {
    const noTime = dlqHeaders({ reason: 'http_4xx', subscriptionId: 'sub-1', event: 'request.create' });
    expect(
      replayVerdict(noTime, RECORD_TS, { ...all, since: RECORD_TS - 1, until: RECORD_TS + 1 }).kind,
    ).toBe('replay');
    expect(replayVerdict(noTime, RECORD_TS, { ...all, since: RECORD_TS + 1 }).kind).toBe('skip');
  });

  it('needs every filter to match', () => {
    const f: ReplayFilter = {
      subscriptionIds: ['sub-1'],
      events: ['request.create'],
      since: LAST_ATTEMPT - 1_000,
      until: LAST_ATTEMPT + 1_000,
    };
    expect(replayVerdict(delivery, RECORD_TS, f).kind).toBe('replay');
    expect(replayVerdict(delivery, RECORD_TS, { ...f, events: ['lead.create'] }).kind).toBe('skip');
  });
});

describe('parseReplayArgs', () => {
  it('defaults to replaying everything, for real, from the start', () => {
    expect(parseReplayArgs([])).toEqual({
      help: false,
      dryRun: false,
      sinceLast: false,
      filter: { subscriptionIds: [], events: [], since: undefined, until: undefined },
    });
  });

  it('reads repeatable filters, times and switches, in both --flag value and --flag=value forms', () => {
    const a = parseReplayArgs([
      '--subscription',
      'sub-1',
      '--subscription=sub-2',
      '--event',
      'request.create',
      '--since',
      '2026-03-01T10:00:00Z',
      '--until=2026-03-02T10:00:00+02:00',
      '--dry-run',
      '--since-last',
    ]);
    expect(a).toEqual({
      help: false,
      dryRun: true,
      sinceLast: true,
      filter: {
        subscriptionIds: ['sub-1', 'sub-2'],
        events: ['request.create'],
        since: Date.parse('2026-03-01T10:00:00Z'),
        until: Date.parse('2026-03-02T08:00:00Z'),
      },
    });
  });

  it('recognises --help', () => {
    expect(parseReplayArgs(['--help']).help).toBe(true);
  });

  // [argv, fragment of the message]
  const bad: [string[], RegExp][] = [
    [['--since', 'yesterday'], /--since: not a date\/time: "yesterday"/],
    [['--until=soon'], /--until: not a date\/time/],
    [['--subscription'], /--subscription needs a value/],
    [['--event', '--dry-run'], /--event needs a value/],
    [['--dry-run=yes'], /--dry-run takes no value/],
    [['--topic', 'x'], /unknown option --topic/],
    [['sub-1'], /unexpected argument sub-1/],
  ];

  it.each(bad)('%j is a usage error with the usage text', (argv, fragment) => {
    let caught: unknown;
    try {
      parseReplayArgs(argv);
    } catch (err) {
      caught = err;
    }
    expect(isConnectorError(caught, ErrorCode.USAGE)).toBe(true);
    expect((caught as Error).message).toMatch(fragment);
    expect((caught as Error).message).toContain(REPLAY_USAGE);
  });
});

describe('replayDeliverDeps', () => {
  it('keeps only the in-process retries of the schedule: a replay never parks or sleeps for hours', () => {
    // Never called: only the policy is looked at.
    const transport = { name: 'undici' } as WebhookTransport;
    const policy = (env: Record<string, string>): readonly number[] =>
      replayDeliverDeps(loadConfig(env), transport).policy.schedule;
    expect(policy({})).toEqual([5_000]);
    expect(policy({ RETRY_SCHEDULE: '1s,2s,1m,1s', RETRY_IN_PROCESS_MAX_MS: '2000' })).toEqual([
      1_000, 2_000,
    ]);
    expect(policy({ RETRY_SCHEDULE: '' })).toEqual([]);
  });
});
