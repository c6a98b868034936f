/**
 * Who is calling the management API, from the Authorization header:
 * - `Bearer whk_<id>_<secret>`, or Basic with the key as password (any user name): an API key;
 * - `JWT <token>` (Tiledesk's scheme) or `Bearer <token>`: a JWT issued by the platform, verified with
 *   API_JWT_SECRET (HS256) or API_JWT_PUBLIC_KEY (RS256), the algorithm pinned, `exp` required.
 * A JWT's role claim says what it may do: owner or admin act on the project of its project claim,
 * platform on every project. Anything else is refused: 401 when the caller is unknown, 403 when known
 * but not allowed.
 */
import { createSecretKey } from 'node:crypto';
import { importSPKI, jwtVerify, type JWTPayload } from 'jose';
import type { Config } from '../config.js';
import { ConnectorError, ErrorCode } from '../errors.js';
import type { ApiKeyStore } from './api-keys.js';

export type Caller =
  | { readonly kind: 'platform'; readonly who: string }
  | { readonly kind: 'project'; readonly idProject: string; readonly who: string };

export type Authenticate = (authorization: string | undefined) => Promise<Caller>;

export type JwtConfig = Pick<
  Config,
  | 'API_JWT_SECRET'
  | 'API_JWT_PUBLIC_KEY'
  | 'API_JWT_ISSUER'
  | 'API_JWT_AUDIENCE'
  | 'API_JWT_PROJECT_CLAIM'
  | 'API_JWT_ROLE_CLAIM'
>;

const unauthorized = (why: string): ConnectorError => new ConnectorError(ErrorCode.API_UNAUTHORIZED, why);
const forbidden = (why: string): ConnectorError => new ConnectorError(ErrorCode.API_FORBIDDEN, why);

const PROJECT_ROLES = new Set(['owner', 'admin']);

export async function createAuthenticator(o: {
  keys: Pick<ApiKeyStore, 'verify'>;
  jwt: JwtConfig;
}): Promise<Authenticate> {
  let jwtKey: { key: Parameters<typeof jwtVerify>[1]; alg: 'HS256' | 'RS256' } | undefined;
  if (o.jwt.API_JWT_SECRET !== '') {
    jwtKey = { key: createSecretKey(Buffer.from(o.jwt.API_JWT_SECRET, 'utf8')), alg: 'HS256' };
  } else if (o.jwt.API_JWT_PUBLIC_KEY !== '') {
    jwtKey = {
      key: await importSPKI(o.jwt.API_JWT_PUBLIC_KEY, 'RS256'),
      alg: 'RS256',
    };
  }

  async function fromKey(key: string): Promise<Caller> {
    const info = await o.keys.verify(key);
    if (info === undefined) throw unauthorized('unknown or revoked API key');
    const who = `apikey:${info.id}`;
    return info.idProject === null
      ? { kind: 'platform', who }
      : { kind: 'project', idProject: info.idProject, who };
  }

  async function fromJwt(token: string): Promise<Caller> {
    if (jwtKey === undefined) {
      throw unauthorized('JWTs are not accepted (no API_JWT_SECRET or API_JWT_PUBLIC_KEY)');
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwtKey.key, {
        algorithms: [jwtKey.alg],
        requiredClaims: ['exp'],
        ...(o.jwt.API_JWT_ISSUER !== '' ? { issuer: o.jwt.API_JWT_ISSUER } : {}),
        ...(o.jwt.API_JWT_AUDIENCE !== '' ? { audience: o.jwt.API_JWT_AUDIENCE } : {}),
      }));
    } catch (err) {
      throw unauthorized(`invalid JWT: ${(err as { code?: string }).code ?? 'unreadable'}`);
    }
    const role = payload[o.jwt.API_JWT_ROLE_CLAIM];
    const project = payload[o.jwt.API_JWT_PROJECT_CLAIM];
    // Tiledesk's createdBy is the user id. Tiledesk's own tokens carry it as `_id` (their `sub` is the
    // principal type: user, bot, subscription); a token of the platform's own may name it as `sub`.
    const subject =
      typeof payload._id === 'string' ? payload._id : typeof payload.sub === 'string' ? payload.sub : '';
    const who = (subject === '' ? 'jwt' : subject).slice(0, 256);
    if (role === 'platform') return { kind: 'platform', who };
    if (typeof role !== 'string' || !PROJECT_ROLES.has(role)) {
      throw forbidden(
        `JWT role ${JSON.stringify(role ?? null)} may not use the API (owner, admin or platform)`,
      );
    }
    if (typeof project !== 'string' || project === '') {
      throw forbidden(`JWT has no project claim "${o.jwt.API_JWT_PROJECT_CLAIM}"`);
    }
    return { kind: 'project', idProject: project, who };
  }

  return async (authorization) => {
    if (authorization === undefined || authorization === '') {
      throw unauthorized('missing Authorization header');
    }
    const space = authorization.indexOf(' ');
    const scheme = (space < 0 ? authorization : authorization.slice(0, space)).toLowerCase();
    const value = space < 0 ? '' : authorization.slice(space + 1).trim();
    if (scheme === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw unauthorized('Basic credentials must be user:password (the API key as password)');
      return fromKey(decoded.slice(colon + 1));
    }
    if (scheme === 'bearer' && value.startsWith('whk_')) return fromKey(value);
    if (scheme === 'bearer' || scheme === 'jwt') return fromJwt(value);
    throw unauthorized('Authorization must be Bearer <key or JWT>, Basic, or JWT <token>');
  };
}

/** Throws FORBIDDEN unless the caller may act on `idProject`. */
export function assertProjectAccess(caller: Caller, idProject: string): void {
  if (caller.kind === 'project' && caller.idProject !== idProject) {
    throw forbidden(`this caller acts on project ${JSON.stringify(caller.idProject)} only`);
  }
}
