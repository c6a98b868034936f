/**
 * `webhook-connector api` as a child process, as an operator starts it: a clean environment (node's
 * variables plus `env`), API and ops servers on ports the child picks (API_PORT=0, OPS_PORT=0), read from
 * its "management API listening" log line (so LOG_LEVEL is always info). `stop()` sends SIGTERM and resolves with the exit code.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ChildApi {
  readonly apiUrl: string;
  readonly opsUrl: string;
  /** Its stdout (JSON log lines) so far. */
  output(): string;
  stop(): Promise<number | null>;
}

export async function spawnApi(env: Record<string, string>): Promise<ChildApi> {
  const base: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ']) {
    const v = process.env[key];
    if (v !== undefined) base[key] = v;
  }
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'api'], {
    cwd: REPO_ROOT,
    // LOG_LEVEL info at least: the ports are read from the info line "management API listening".
    env: {
      ...base,
      API_HOST: '127.0.0.1',
      API_PORT: '0',
      OPS_HOST: '127.0.0.1',
      OPS_PORT: '0',
      ...env,
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => void (out += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => void (out += c.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let exitCode: number | null | undefined;
  void exited.then((c) => (exitCode = c));
  const ports = await waitFor(
    () => {
      if (exitCode !== undefined) throw new Error(`api exited ${exitCode}:\n${out}`);
      const line = out.split('\n').find((l) => l.includes('"management API listening"'));
      return line !== undefined && (JSON.parse(line) as { apiPort: number; opsPort: number });
    },
    { timeoutMs: 30_000, message: () => `api to listen; output:\n${out}` },
  );
  return {
    apiUrl: `http://127.0.0.1:${ports.apiPort}`,
    opsUrl: `http://127.0.0.1:${ports.opsPort}`,
    output: () => out,
    async stop() {
      if (exitCode === undefined) child.kill('SIGTERM');
      return exited;
    },
  };
}
