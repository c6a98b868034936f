/**
 * `webhook-connector api-keys create --project P [--name N] | create --platform [--name N] |
 * list [--project P] | revoke ID`: the management API's keys. A new key is printed once (only its
 * hash is stored); a revoked key is refused from the API's next request.
 */
import { createArgParser } from './args.js';
import type { ApiKeyInfo, ApiKeyStore } from '../api/api-keys.js';

export const API_KEYS_USAGE = `Usage: webhook-connector api-keys <command>

  create --project P [--name N]
                              a key that acts on project P only; prints it once (store it now:
                              only its hash is kept)
  create --platform [--name N]
                              a platform key: every project, and global subscriptions
  list [--project P]          list keys (never their secrets): id, project or (platform), name,
                              created, revoked, last used
  revoke ID                   refuse the key from the next request on

The key is sent as \`Authorization: Bearer whk_<id>_<secret>\` (or as the Basic password).`;

const { usage, parse } = createArgParser(
  API_KEYS_USAGE,
  (expected, got) => `expected ${expected} argument(s), got ${got}`,
);

const when = (d: Date | null): string => (d === null ? '-' : d.toISOString());

export function formatApiKey(k: ApiKeyInfo): string {
  return [
    k.id,
    k.idProject === null ? '(platform)' : JSON.stringify(k.idProject),
    JSON.stringify(k.name),
    `created=${when(k.createdAt)}`,
    `revoked=${when(k.revokedAt)}`,
    `last_used=${when(k.lastUsedAt)}`,
  ].join(' ');
}

export async function runApiKeysCommand(
  args: readonly string[],
  deps: { keys: ApiKeyStore; out: (line: string) => void },
): Promise<void> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'create': {
      const { values } = parse(
        rest,
        { project: { type: 'string' }, platform: { type: 'boolean' }, name: { type: 'string' } },
        0,
      );
      const project = values.project;
      if ((project === undefined) === (values.platform !== true)) {
        throw usage('create needs exactly one of --project P or --platform');
      }
      const name = values.name ?? '';
      if (/[\u0000-\u001f\u007f]/.test(name) || name.length > 256) {
        throw usage('--name must be at most 256 characters, without control characters');
      }
      const { info, key } = await deps.keys.create({ idProject: project ?? null, name });
      deps.out(`created ${formatApiKey(info)}`);
      deps.out(`key: ${key}`);
      deps.out('(shown once: store it now; only its hash is kept)');
      return;
    }
    case 'list': {
      const { values } = parse(rest, { project: { type: 'string' } }, 0);
      const project = values.project;
      const keys = await deps.keys.list(project === undefined ? {} : { idProject: project });
      for (const k of keys) deps.out(formatApiKey(k));
      if (keys.length === 0) deps.out('no API keys');
      return;
    }
    case 'revoke': {
      const { positionals } = parse(rest, {}, 1);
      const info = await deps.keys.revoke(positionals[0]!);
      deps.out(`revoked ${formatApiKey(info)}`);
      return;
    }
    case undefined:
      throw usage('missing command');
    default:
      throw usage(`unknown api-keys command "${sub}"`);
  }
}
