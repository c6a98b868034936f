/**
 * The setup of a test that delivers to one receiver: a migrated database of its own, a receiver, and one
 * subscription sending project P1's `request.create` events (see ./events.ts) to it.
 *
 *   let s: SubscribedReceiver;
 *   beforeAll(async () => void (s = await startSubscribedReceiver('my_test')));
 *   afterAll(() => s?.close());
 */
import type pg from 'pg';
import { createSubscriptionStore } from '../../src/subscriptions/pg-store.js';
import type { Subscription } from '../../src/subscriptions/types.js';
import { createMigratedDatabase, type TestDatabase } from './pg.js';
import { startReceiver, type Answer, type Receiver } from './receiver.js';

export interface SubscribedReceiver {
  readonly db: TestDatabase;
  readonly pool: pg.Pool;
  readonly receiver: Receiver;
  /** Closes the receiver, ends the pool, drops the database. */
  close(): Promise<void>;
}

/** `dbPrefix` names the test's database; `answer` scripts the receiver (default: 200 to everything). */
export async function startSubscribedReceiver(
  dbPrefix: string,
  answer?: Answer,
): Promise<SubscribedReceiver> {
  const { db, pool } = await createMigratedDatabase(dbPrefix);
  const receiver = await startReceiver(answer);
  const close = async (): Promise<void> => {
    await receiver.close();
    await pool.end();
    await db.drop();
  };
  try {
    await createSubscriptionStore(pool).add({
      idProject: 'P1',
      event: 'request.create',
      target: receiver.url,
      createdBy: 't',
    });
  } catch (err) {
    await close();
    throw err;
  }
  return { db, pool, receiver, close };
}

/**
 * The two subscriptions an event of project P1 (`request.create`) reaches: P1's own, to
 * `<project>/hooks`, and the platform's global one (stored under P9), to `<global>/all`.
 */
export async function subscribeProjectAndGlobal(
  pool: pg.Pool,
  receivers: { readonly project: Receiver; readonly global: Receiver },
): Promise<{ project: Subscription; global: Subscription }> {
  const store = createSubscriptionStore(pool);
  const project = await store.add({
    idProject: 'P1',
    event: 'request.create',
    target: `${receivers.project.url}/hooks`,
    createdBy: 'u1',
  });
  const global = await store.add({
    idProject: 'P9',
    event: 'request.create',
    target: `${receivers.global.url}/all`,
    createdBy: 'admin',
    global: true,
  });
  return { project, global };
}
