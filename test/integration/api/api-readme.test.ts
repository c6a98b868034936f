/**
 * README "Management API" is a list of promises: every `sh` example in it runs, as written, with curl
 * against the real server (on a real Postgres; the delivery log in memory), and answers JSON that is not
 * an error; and together the examples show every route the server registers.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startTestApi, type TestApi } from '../../support/api-server.js';
import { deliveryView } from '../../support/memory-delivery-log.js';

const P = '65f1c0ffee0123456789abcd';
const MSG = 'msg_2Q3x5b1Vt0sZ9nE7aKcYd4wR';
let api: TestApi;
let env: Record<string, string>;

const section = (() => {
  const readme = readFileSync('README.md', 'utf8');
  const start = readme.indexOf('\n## Management API\n');
  expect(start).toBeGreaterThan(0);
  const end = readme.indexOf('\n## ', start + 5);
  return readme.slice(start, end);
})();
const examples = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);

beforeAll(async () => {
  api = await startTestApi('api_readme');
  const s = await api.subscriptions.add({
    idProject: P,
    event: 'request.close',
    target: 'https://crm.example.com/x',
    createdBy: 't',
  });
  api.memoryLog.add(deliveryView({ id: MSG, idProject: P, subscriptionId: s.id }));
  env = { PATH: process.env.PATH ?? '', API: api.url, KEY: await api.projectKey(P), P, ID: s.id, MSG };
});
afterAll(() => api.stop());

const sh = (script: string): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    execFile('bash', ['-euc', script], { env, timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? 1), stdout, stderr }),
    );
  });

describe('README "Management API"', () => {
  it('has curl examples', () => {
    expect(examples.length).toBeGreaterThanOrEqual(14);
  });

  it('every example runs as written and answers JSON that is not an error', async () => {
    for (const example of examples) {
      const r = await sh(example);
      const json = (() => {
        try {
          return JSON.parse(r.stdout) as unknown;
        } catch {
          return undefined;
        }
      })();
      expect([
        example,
        r.code,
        json !== undefined,
        (json as { success?: unknown } | undefined)?.success,
      ]).toEqual([example, 0, true, undefined]);
    }
  });

  it('shows every registered route', () => {
    const shown = new Set(
      examples.flatMap((e) =>
        [...e.replace(/\\\n/g, ' ').matchAll(/curl (?:-sS )?(?:-X (\w+) )?"\$API([^"?]*)/g)].map(
          (m) =>
            `${m[1] ?? 'GET'} ${m[2]!.replace('$P', ':projectid').replace('$ID', ':id').replace('$MSG', ':deliveryId')}`,
        ),
      ),
    );
    const routes = api.api.registered
      .filter((r) => r.url !== '/openapi.json')
      .map((r) => `${r.method} ${r.url}`);
    expect(routes.filter((r) => !shown.has(r))).toEqual([]);
  });
});
