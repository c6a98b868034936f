/**
 * Child processes of the benchmark: forked entry points of this repo with a small IPC request/response,
 * or plain spawned commands. Every child is tracked and killed by its own PID on exit.
 *
 * Entry points run compiled (`tsc -p tsconfig.bench.json` into bench/.build, as production runs
 * `dist/`), not under tsx: tsx's loader is a second V8 isolate in every process (memory) and wraps
 * functions (CPU), which would be charged to the system under test.
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BUILD_DIR = `${REPO_ROOT}/bench/.build`;

/** Compiles src/ and bench/ into bench/.build (a few seconds; once per benchmark run). */
export function buildForBench(): void {
  execFileSync(
    process.execPath,
    [`${REPO_ROOT}/node_modules/typescript/bin/tsc`, '-p', 'tsconfig.bench.json'],
    {
      cwd: REPO_ROOT,
      stdio: 'inherit',
    },
  );
}

const live = new Set<ChildProcess>();

export function killAll(): void {
  for (const c of live) {
    if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}
process.on('exit', killAll);

export interface Child {
  readonly pid: number;
  readonly process: ChildProcess;
  /** stdout + stderr so far. */
  output(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  isAlive(): boolean;
  /** Next IPC message matching `pred` (messages that arrived before are kept). */
  message<T = unknown>(pred: (m: Record<string, unknown>) => boolean, timeoutMs: number): Promise<T>;
  /** Sends {id, ...request} and waits for {id, ok, result|error}. */
  call<T = unknown>(request: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

let nextId = 1;

function wrap(child: ChildProcess, name: string, echo: boolean): Child {
  if (child.pid === undefined) throw new Error(`${name}: could not start`);
  live.add(child);
  const pid = child.pid;
  const chunks: string[] = [];
  let size = 0;
  const capture = (chunk: Buffer): void => {
    const text = chunk.toString('utf8');
    if (echo) process.stderr.write(`[${name}] ${text}`);
    chunks.push(text);
    size += text.length;
    while (size > 200_000 && chunks.length > 1) size -= chunks.shift()!.length;
  };
  child.stdout?.on('data', capture);
  child.stderr?.on('data', capture);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    }),
  );
  const inbox: Record<string, unknown>[] = [];
  const waiters: {
    pred: (m: Record<string, unknown>) => boolean;
    resolve: (m: Record<string, unknown>) => void;
  }[] = [];
  child.on('message', (m: Record<string, unknown>) => {
    const k = waiters.findIndex((w) => w.pred(m));
    if (k >= 0) waiters.splice(k, 1)[0]!.resolve(m);
    else inbox.push(m);
  });
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  const message = <T>(pred: (m: Record<string, unknown>) => boolean, timeoutMs: number): Promise<T> => {
    const k = inbox.findIndex(pred);
    if (k >= 0) return Promise.resolve(inbox.splice(k, 1)[0] as T);
    return new Promise<T>((resolve, reject) => {
      const w = {
        pred,
        resolve: (m: Record<string, unknown>) => {
          clearTimeout(timer);
          resolve(m as T);
        },
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(w), 1);
        reject(
          new Error(
            `${name}: no answer within ${timeoutMs} ms${alive() ? '' : ' (exited)'}\n${chunks.join('').slice(-4000)}`,
          ),
        );
      }, timeoutMs);
      waiters.push(w);
      void exited.then(() => {
        if (waiters.includes(w)) {
          clearTimeout(timer);
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`${name} exited\n${chunks.join('').slice(-4000)}`));
        }
      });
    });
  };
  return {
    pid,
    process: child,
    output: () => chunks.join(''),
    exited,
    isAlive: alive,
    message,
    async call<T>(request: Record<string, unknown>, timeoutMs = 60_000): Promise<T> {
      const id = nextId++;
      child.send({ ...request, id });
      const reply = await message<{ ok: boolean; result?: T; error?: string }>((m) => m.id === id, timeoutMs);
      if (!reply.ok) throw new Error(`${name}: ${reply.error}`);
      return reply.result as T;
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (alive()) {
        try {
          process.kill(pid, signal);
        } catch {
          /* gone */
        }
      }
      await exited;
    },
  };
}

export interface ForkOptions {
  readonly env?: Record<string, string>;
  readonly args?: readonly string[];
  /** Extra node flags (e.g. --cpu-prof). */
  readonly nodeFlags?: readonly string[];
  readonly echo?: boolean;
  readonly cwd?: string;
}

/** A clean environment: what node needs plus `extra` (the parent's KAFKA_*, DATABASE_URL... never leak). */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const base: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ']) {
    const v = process.env[key];
    if (v !== undefined) base[key] = v;
  }
  return { ...base, ...extra };
}

/** Forks the compiled form of a TypeScript module of this repo (path relative to the repo root), with IPC. */
export function forkBuilt(name: string, modulePath: string, o: ForkOptions = {}): Child {
  const compiled = `${BUILD_DIR}/${modulePath.replace(/\.ts$/, '.js')}`;
  if (!existsSync(compiled)) throw new Error(`${compiled} missing: buildForBench() first`);
  const child = fork(compiled, [...(o.args ?? [])], {
    cwd: o.cwd ?? REPO_ROOT,
    env: cleanEnv(o.env),
    execArgv: [...(o.nodeFlags ?? [])],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  return wrap(child, name, o.echo ?? false);
}

/** Spawns a command (no IPC). */
export function spawnCmd(
  name: string,
  command: string,
  args: readonly string[],
  o: { env?: Record<string, string>; cwd?: string; echo?: boolean } = {},
): Child {
  const child = spawn(command, [...args], {
    cwd: o.cwd ?? REPO_ROOT,
    env: o.env ?? cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return wrap(child, name, o.echo ?? false);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
