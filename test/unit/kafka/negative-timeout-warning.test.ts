/**
 * kafkajs's idle request queue arms a timer with a negative delay; Node >= 23 prints a
 * TimeoutNegativeWarning for it. Each case runs in its own Node process (a warning is printed once per
 * process, and jest's sandbox has its own `process`), with kafkajs's real RequestQueue, no socket.
 */
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isKafkajsNegativeTimeout } from '../../../src/kafka/negative-timeout-warning.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const nodeMajor = Number(process.versions.node.split('.')[0]);

/** Runs `body` after the optional setup in a fresh Node; what it printed on stderr. */
function stderrOf(setup: 'none' | 'kafkaConfig', body: string): string {
  const script = `
    import { createRequire } from 'node:module';
    const require = createRequire(${JSON.stringify(join(root, 'package.json'))});
    const RequestQueue = require('kafkajs/src/network/requestQueue/index.js');
    const noop = () => {};
    const logger = { debug: noop, info: noop, warn: noop, error: noop };
    if (${JSON.stringify(setup)} === 'kafkaConfig') {
      const { kafkaConfig } = await import('./src/kafka/create-kafka.ts');
      const { createLogger } = await import('./src/logger.ts');
      kafkaConfig(${JSON.stringify({
        KAFKA_BROKERS: ['127.0.0.1:9'],
        KAFKA_CLIENT_ID: 't',
        KAFKA_SSL: false,
        KAFKA_SSL_CA_FILE: '',
        KAFKA_SSL_CERT_FILE: '',
        KAFKA_SSL_KEY_FILE: '',
        KAFKA_SASL_MECHANISM: '',
        KAFKA_SASL_USERNAME: '',
        KAFKA_SASL_PASSWORD: '',
      })}, createLogger('error'));
    }
    ${body}
    setTimeout(noop, 50); // the warning is printed on a later tick
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: root,
    env: { PATH: process.env.PATH },
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect({ status: r.status, error: r.error }).toEqual({ status: 0, error: undefined });
  return r.stderr;
}

// kafkajs's idle queue: scheduleCheckPendingRequests() with nothing throttled, then stopped (it would
// otherwise reschedule itself every millisecond and keep the process alive).
const IDLE_QUEUE = `
  const queue = new RequestQueue({ clientId: 't', broker: 'b', logger });
  queue.scheduleCheckPendingRequests();
  setTimeout(() => queue.destroy(), 10);
`;

describe('the TimeoutNegativeWarning of kafkajs (tulios/kafkajs#1751)', () => {
  it(`is printed by an idle kafkajs request queue on this Node (${process.version}) when Node >= 23`, () => {
    const stderr = stderrOf('none', IDLE_QUEUE);
    if (nodeMajor >= 23) expect(stderr).toMatch(/TimeoutNegativeWarning: -\d+ is a negative number/);
    else expect(stderr).toBe('');
  });

  it('is not printed once kafkaConfig() built a client configuration', () => {
    expect(stderrOf('kafkaConfig', IDLE_QUEUE)).toBe('');
  });

  it('is the only warning dropped: a negative timeout of our own still warns', () => {
    // Node warns once per process, at the first negative delay: ours comes first here.
    const stderr = stderrOf('kafkaConfig', `setTimeout(noop, -5);\n${IDLE_QUEUE}`);
    if (nodeMajor >= 23) expect(stderr).toMatch(/TimeoutNegativeWarning: -5 is a negative number/);
    else expect(stderr).toBe('');
  });

  it('is recognised by its type and a kafkajs request-queue frame on the stack', () => {
    const stack = `Error\n    at new Timeout (node:internal/timers:233:17)\n    at RequestQueue.scheduleCheckPendingRequests (/app/node_modules/kafkajs/src/network/requestQueue/index.js:317:37)`;
    expect(isKafkajsNegativeTimeout('TimeoutNegativeWarning', stack)).toBe(true);
    expect(isKafkajsNegativeTimeout('TimeoutOverflowWarning', stack)).toBe(false);
    expect(
      isKafkajsNegativeTimeout('TimeoutNegativeWarning', 'Error\n    at ours (/app/dist/src/x.js:1:1)'),
    ).toBe(false);
    expect(isKafkajsNegativeTimeout('TimeoutNegativeWarning', undefined)).toBe(false);
  });
});
