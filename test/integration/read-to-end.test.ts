/**
 * `readToEnd` (test/support/kafka.ts) is what the other tests' claims of absence ("nothing was
 * dead-lettered") rest on, so it is proven here to see what is there: a record planted last, on any
 * partition, and whatever is in a topic at the moment of the call, without waiting for a time window.
 */
import { describe, expect, it } from '@jest/globals';
import { createTopic, produce, readToEnd, uniqueName } from '../support/kafka.js';

describe('readToEnd', () => {
  it('returns a planted record: the last one of a topic, on whichever partition it is', async () => {
    const topic = uniqueName('read-to-end');
    await createTopic(topic, 3);
    await produce(topic, [
      { key: 'a', value: 'first', partition: 0 },
      { key: 'b', value: 'second', partition: 2 },
    ]);
    await produce(topic, [{ key: 'planted', value: 'planted', partition: 1 }]);

    const records = await readToEnd(topic);

    expect(records.map((r) => [r.partition, r.offset, r.value?.toString()])).toEqual([
      [0, 0, 'first'],
      [1, 0, 'planted'],
      [2, 0, 'second'],
    ]);
  });

  it('returns a single planted record of a dead-letter-like topic, and nothing for an empty one', async () => {
    const planted = uniqueName('read-to-end-dlq');
    await createTopic(planted, 1);
    await produce(planted, [{ value: 'dead letter', headers: { 'dlq-reason': 'permanent' } }]);
    const [only, ...rest] = await readToEnd(planted);
    expect(rest).toEqual([]);
    expect(only?.headers['dlq-reason']).toBe('permanent');

    // A topic nothing was written to (created by the call, like a dead-letter topic): empty at once.
    const started = Date.now();
    expect(await readToEnd(uniqueName('read-to-end-absent'))).toEqual([]);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('fails instead of answering "nothing" when it cannot reach the end offsets in time', async () => {
    const topic = uniqueName('read-to-end-timeout');
    await createTopic(topic, 1);
    await produce(topic, [{ value: 'there' }]);
    await expect(readToEnd(topic, { timeoutMs: 1 })).rejects.toThrow(/did not reach the end offsets/);
  });
});
