/**
 * JWTs (RFC 7519) with node:crypto: synchronous, no dependency, verified in tests with `jose`. HS256 with the
 * subscription's secret for every subscription; a global subscription's JWT may instead be signed with the
 * platform's key (GLOBAL_SECRET, or GLOBAL_SECRET_OR_PRIVATE_KEY with GLOBAL_SECRET_ALGORITHM), as Tiledesk
 * signs it.
 */
import { createHmac, createPrivateKey, sign, type KeyObject } from 'node:crypto';

const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

/** `key`: the secret string (its UTF-8 bytes are the key) or a KeyObject of those bytes. */
export function signJwtHs256(claims: Readonly<Record<string, unknown>>, key: string | KeyObject): string {
  return signJwtHs256Json(JSON.stringify(claims), key);
}

/** The same, from the claims already serialised as JSON. */
export function signJwtHs256Json(claimsJson: string, key: string | KeyObject): string {
  return hmacJwt(HEADER, claimsJson, 'sha256', key);
}

/** `header.payload` of a compact JWS, the header already encoded. */
function signingInput(header: string, claimsJson: string): string {
  return `${header}.${Buffer.from(claimsJson).toString('base64url')}`;
}

function hmacJwt(header: string, claimsJson: string, hash: string, key: string | Buffer | KeyObject): string {
  const input = signingInput(header, claimsJson);
  return `${input}.${createHmac(hash, key).update(input).digest('base64url')}`;
}

/** The algorithms GLOBAL_SECRET_ALGORITHM accepts (jsonwebtoken's names, as Tiledesk configures them). */
export const JWT_ALGORITHMS = [
  'HS256',
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'ES256',
  'ES384',
  'ES512',
] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

/** Signs JWTs with one key and algorithm: `sign(claimsJson)` → the compact token. */
export interface JwtSigner {
  readonly alg: JwtAlgorithm;
  sign(claimsJson: string): string;
}

const EC_CURVES: Partial<Record<JwtAlgorithm, string>> = {
  ES256: 'prime256v1',
  ES384: 'secp384r1',
  ES512: 'secp521r1',
};

/**
 * A signer for `alg` with `key`: for HS*, the secret string (its UTF-8 bytes); for RS*, a PEM RSA private
 * key; for ES*, a PEM EC private key on the algorithm's curve. Literal `\n` in a PEM are read as newlines
 * (Tiledesk does the same, for keys passed in one-line environment variables). Throws a plain Error naming
 * what is wrong (config.ts reports it as CONFIG_INVALID).
 */
export function createJwtSigner(alg: JwtAlgorithm, key: string): JwtSigner {
  if (key === '') throw new Error('the key is empty');
  const hash = `sha${alg.slice(2)}`;
  const header = Buffer.from(JSON.stringify({ alg, typ: 'JWT' })).toString('base64url');
  if (alg.startsWith('HS')) {
    const secret = Buffer.from(key, 'utf8');
    return { alg, sign: (claimsJson) => hmacJwt(header, claimsJson, hash, secret) };
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key.includes('\\n') ? key.replaceAll('\\n', '\n') : key);
  } catch (err) {
    throw new Error(`not a PEM private key (${(err as Error).message})`);
  }
  const type = privateKey.asymmetricKeyType;
  if (alg.startsWith('RS') && type !== 'rsa') {
    throw new Error(`${alg} needs an RSA private key, got ${type ?? 'none'}`);
  }
  if (alg.startsWith('ES')) {
    const curve = privateKey.asymmetricKeyDetails?.namedCurve;
    if (type !== 'ec' || curve !== EC_CURVES[alg]) {
      throw new Error(
        `${alg} needs an EC private key on ${EC_CURVES[alg]}, got ${type ?? 'none'} ${curve ?? ''}`.trim(),
      );
    }
  }
  // JWS wants ECDSA signatures as r || s (IEEE P1363), not DER.
  const options = alg.startsWith('ES') ? { key: privateKey, dsaEncoding: 'ieee-p1363' as const } : privateKey;
  return {
    alg,
    sign(claimsJson) {
      const input = signingInput(header, claimsJson);
      return `${input}.${sign(hash, Buffer.from(input), options).toString('base64url')}`;
    },
  };
}
