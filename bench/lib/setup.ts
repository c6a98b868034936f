/**
 * The benchmark's surroundings: the local broker and Postgres (test/infra/infra.sh), and the removal of
 * everything a run creates — topics, consumer groups and databases named with the benchmark's prefixes —
 * at its start (what an interrupted run left) and at its end.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, sleep } from './child.js';
import { deleteTopics, dropDatabases, withAdmin } from './data.js';

export function infraUp(log: (line: string) => void): void {
  const script = join(REPO_ROOT, 'test/infra/infra.sh');
  if (!existsSync(script)) {
    throw new Error('test/infra/infra.sh is missing: the benchmark starts the broker and Postgres with it');
  }
  try {
    execFileSync('bash', [script, 'status'], { stdio: 'ignore' });
    log('infra: broker, registry and Postgres already up');
  } catch {
    log('infra: starting the broker and Postgres (test/infra/infra.sh up)');
    execFileSync('bash', [script, 'up'], { stdio: ['ignore', 'inherit', 'inherit'] });
  }
}

export interface Prefixes {
  readonly topicPrefix: string;
  readonly groupPrefix: string;
  readonly dbPrefix: string;
}

export async function cleanup(p: Prefixes, log: (line: string) => void): Promise<void> {
  const deleted = await deleteTopics(p.topicPrefix).catch(() => []);
  await withAdmin(async (admin) => {
    const { groups } = await admin.listGroups();
    const mine = groups.map((g) => g.groupId).filter((g) => g.startsWith(p.groupPrefix));
    if (mine.length > 0) await admin.deleteGroups(mine).catch(() => undefined);
  }).catch(() => undefined);
  await dropDatabases(p.dbPrefix).catch(() => undefined);
  if (deleted.length > 0) log(`cleanup: deleted ${deleted.length} bench topic(s)`);
}

/** Topic deletion is asynchronous in the broker: wait (10 s at most) until none with the prefix is listed. */
export async function waitTopicsGone(topicPrefix: string): Promise<void> {
  for (let k = 0; k < 50; k++) {
    const left = await withAdmin(async (admin) =>
      (await admin.listTopics()).filter((t) => t.startsWith(topicPrefix)),
    );
    if (left.length === 0) return;
    await sleep(200);
  }
}
