/**
 * Jest globalSetup of the integration project: fails fast, with one clear message, when the test
 * infrastructure is not reachable, instead of every test timing out on its own.
 *
 * The checks are `infra.sh status` (kafkajs on both Kafka listeners, the registry's Confluent API,
 * pg_isready), so they live in one place. Jest loads this file outside its module system, where the
 * `.js` -> `.ts` mapping of relative imports does not apply: it must not import ./env.js & co.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const INFRA_SH = fileURLToPath(new URL('../infra/infra.sh', import.meta.url));

export default async function globalSetup(): Promise<void> {
  const status = await new Promise<{ ok: boolean; output: string }>((resolve) => {
    execFile('bash', [INFRA_SH, 'status'], { timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ ok: error === null, output: `${stdout}${stderr}`.trim() }),
    );
  });
  if (!status.ok) {
    throw new Error(
      `The integration tests need the test infrastructure, and it is not reachable:\n${status.output}\n` +
        'Start it with: bash test/infra/infra.sh up   (npm test does it for you)',
    );
  }
}
