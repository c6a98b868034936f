/**
 * Global subscriptions' JWT with the platform's key (GLOBAL_SECRET, GLOBAL_SECRET_OR_PRIVATE_KEY +
 * GLOBAL_SECRET_ALGORITHM), as Tiledesk signs it: a receiver of every project's events calls Tiledesk back
 * with that token, and Tiledesk checks it with its global key, not the subscription's secret.
 */
import { describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { decodeProtectedHeader, importSPKI, jwtVerify } from 'jose';
import { ConnectorError } from '../../../src/errors.js';
import { loadConfig } from '../../../src/config.js';
import { globalJwtSignerFromConfig } from '../../../src/delivery/deliver-deps.js';
import { createJwtSigner, JWT_ALGORITHMS, type JwtAlgorithm } from '../../../src/delivery/jwt.js';
import { PreparedSubscriptions, prepareSubscription } from '../../../src/delivery/prepared-subscription.js';
import type { Subscription } from '../../../src/subscriptions/types.js';
import { subscription as baseSubscription } from '../../support/subscription.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const IAT = Math.floor(NOW / 1000);
const GLOBAL = 'the-platform-global-secret-of-32+chars';

function subscription(over: Partial<Subscription> = {}): Subscription {
  return baseSubscription({
    id: '7f1c2a4e-0000-4000-8000-000000000009',
    idProject: 'proj-42',
    target: 'https://bots.example.com/hooks',
    secret: 'own-secret-of-the-subscription',
    global: true,
    ...over,
  });
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

function pem(kind: 'rsa' | 'ec', namedCurve = 'prime256v1'): { privateKey: string; publicKey: string } {
  const opts =
    kind === 'rsa'
      ? {
          modulusLength: 2048,
          publicKeyEncoding: { type: 'spki', format: 'pem' },
          privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
        }
      : {
          namedCurve,
          publicKeyEncoding: { type: 'spki', format: 'pem' },
          privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
        };
  return generateKeyPairSync(kind as 'rsa', opts as never) as unknown as {
    privateKey: string;
    publicKey: string;
  };
}

describe('global subscription JWT with GLOBAL_SECRET (HS256)', () => {
  const signer = createJwtSigner('HS256', GLOBAL);

  it("verifies with the global secret, Tiledesk's claims and bare audience; not with the subscription's", async () => {
    const sub = subscription();
    const token = prepareSubscription(sub, NOW, signer).token(IAT);
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'JWT' });
    const { payload } = await jwtVerify(token, utf8(GLOBAL), {
      algorithms: ['HS256'],
      issuer: 'https://tiledesk.com',
      subject: 'subscription',
      audience: 'https://tiledesk.com',
      currentDate: new Date(NOW),
    });
    expect(payload).toMatchObject({ _id: sub.id, event: sub.event, id_project: sub.idProject, iat: IAT });
    expect(payload).not.toHaveProperty('secret');
    await expect(jwtVerify(token, utf8(sub.secret))).rejects.toThrow(/signature/);
  });

  it("leaves a project subscription's JWT on its own secret", async () => {
    const sub = subscription({ global: false });
    const token = prepareSubscription(sub, NOW, signer).token(IAT);
    await jwtVerify(token, utf8(sub.secret), { audience: `https://tiledesk.com/subscriptions/${sub.id}` });
    await expect(jwtVerify(token, utf8(GLOBAL))).rejects.toThrow(/signature/);
  });

  it("puts the global token in the envelope, keeps the subscription's secret for the HMACs", async () => {
    const prepared = new PreparedSubscriptions(() => NOW, signer).get(subscription());
    const suffix = prepared.envelopeSuffix(IAT).toString('utf8');
    const token = /"token":"([^"]+)"/.exec(suffix)![1]!;
    await jwtVerify(token, utf8(GLOBAL), { audience: 'https://tiledesk.com' });
    expect(prepared.signingSecret).toBe('own-secret-of-the-subscription');
  });

  it('keys on the UTF-8 bytes of the secret', async () => {
    const token = createJwtSigner('HS256', 'glöbal€').sign('{"a":1}');
    await jwtVerify(token, utf8('glöbal€'), { algorithms: ['HS256'] });
  });
});

describe('GLOBAL_SECRET_OR_PRIVATE_KEY with GLOBAL_SECRET_ALGORITHM', () => {
  // Three columns in every row: jest passes `done` to a callback with more parameters than columns.
  const cases: [JwtAlgorithm, 'rsa' | 'ec' | 'hs', string][] = [
    ['RS256', 'rsa', ''],
    ['RS512', 'rsa', ''],
    ['ES256', 'ec', 'prime256v1'],
    ['ES384', 'ec', 'secp384r1'],
    ['ES512', 'ec', 'secp521r1'],
    ['HS384', 'hs', ''],
    ['HS512', 'hs', ''],
  ];
  it.each(cases)('%s: verifies with jose, the algorithm in the header', async (alg, kind, curve) => {
    const sub = subscription();
    if (kind === 'hs') {
      const token = prepareSubscription(sub, NOW, createJwtSigner(alg, GLOBAL)).token(IAT);
      expect(decodeProtectedHeader(token).alg).toBe(alg);
      await jwtVerify(token, utf8(GLOBAL), { algorithms: [alg], audience: 'https://tiledesk.com' });
      return;
    }
    const keys = pem(kind, curve || undefined);
    const token = prepareSubscription(sub, NOW, createJwtSigner(alg, keys.privateKey)).token(IAT);
    expect(decodeProtectedHeader(token)).toEqual({ alg, typ: 'JWT' });
    const { payload } = await jwtVerify(token, await importSPKI(keys.publicKey, alg), {
      algorithms: [alg],
      issuer: 'https://tiledesk.com',
      audience: 'https://tiledesk.com',
    });
    expect(payload._id).toBe(sub.id);
  });

  it('reads a PEM written on one line with literal \\n, as Tiledesk does', async () => {
    const keys = pem('rsa');
    const oneLine = keys.privateKey.trim().split('\n').join('\\n');
    expect(oneLine).not.toContain('\n');
    const token = createJwtSigner('RS256', oneLine).sign('{"x":1}');
    await jwtVerify(token, await importSPKI(keys.publicKey, 'RS256'));
  });

  it('refuses a key that does not fit the algorithm, naming why', () => {
    const rsa = pem('rsa').privateKey;
    const p256 = pem('ec', 'prime256v1').privateKey;
    expect(() => createJwtSigner('ES256', rsa)).toThrow(
      /ES256 needs an EC private key on prime256v1, got rsa/,
    );
    expect(() => createJwtSigner('ES384', p256)).toThrow(/ES384 needs an EC private key on secp384r1/);
    expect(() => createJwtSigner('RS256', p256)).toThrow(/RS256 needs an RSA private key, got ec/);
    expect(() => createJwtSigner('RS256', 'not a pem')).toThrow(/not a PEM private key/);
    expect(() => createJwtSigner('HS256', '')).toThrow(/empty/);
  });

  it('offers every algorithm it names', () => {
    for (const alg of JWT_ALGORITHMS) {
      const key = alg.startsWith('HS')
        ? GLOBAL
        : alg.startsWith('RS')
          ? pem('rsa').privateKey
          : pem('ec', { ES256: 'prime256v1', ES384: 'secp384r1', ES512: 'secp521r1' }[alg as 'ES256'])!
              .privateKey;
      expect(createJwtSigner(alg, key).alg).toBe(alg);
    }
  });
});

describe('configuration', () => {
  it('none set: no platform key (each subscription its own secret)', () => {
    expect(globalJwtSignerFromConfig(loadConfig({}))).toBeUndefined();
  });

  it('GLOBAL_SECRET: HS256; GLOBAL_SECRET_OR_PRIVATE_KEY takes precedence, as in Tiledesk', async () => {
    expect(globalJwtSignerFromConfig(loadConfig({ GLOBAL_SECRET: GLOBAL }))?.alg).toBe('HS256');
    const keys = pem('rsa');
    const signer = globalJwtSignerFromConfig(
      loadConfig({
        GLOBAL_SECRET: GLOBAL,
        GLOBAL_SECRET_OR_PRIVATE_KEY: keys.privateKey,
        GLOBAL_SECRET_ALGORITHM: 'RS256',
      }),
    )!;
    expect(signer.alg).toBe('RS256');
    await jwtVerify(signer.sign('{"a":1}'), await importSPKI(keys.publicKey, 'RS256'));
  });

  it('refuses at load a key unfit for the algorithm, an unknown algorithm, or an algorithm without a key', () => {
    const refused = (env: Record<string, string>): string => {
      try {
        loadConfig(env);
      } catch (err) {
        expect(err).toBeInstanceOf(ConnectorError);
        return (err as Error).message;
      }
      throw new Error('accepted');
    };
    expect(refused({ GLOBAL_SECRET_OR_PRIVATE_KEY: 'not a pem', GLOBAL_SECRET_ALGORITHM: 'RS256' })).toMatch(
      /GLOBAL_SECRET_OR_PRIVATE_KEY: not a key for GLOBAL_SECRET_ALGORITHM RS256: not a PEM private key/,
    );
    expect(refused({ GLOBAL_SECRET_OR_PRIVATE_KEY: GLOBAL, GLOBAL_SECRET_ALGORITHM: 'none' })).toMatch(
      /GLOBAL_SECRET_ALGORITHM/,
    );
    expect(refused({ GLOBAL_SECRET: GLOBAL, GLOBAL_SECRET_ALGORITHM: 'RS256' })).toMatch(
      /GLOBAL_SECRET_ALGORITHM applies to GLOBAL_SECRET_OR_PRIVATE_KEY, which is not set/,
    );
  });

  it('never prints the key in the refusal', () => {
    const secretish = 'SUPER-SECRET-NOT-A-PEM-VALUE';
    try {
      loadConfig({ GLOBAL_SECRET_OR_PRIVATE_KEY: secretish, GLOBAL_SECRET_ALGORITHM: 'ES256' });
      throw new Error('accepted');
    } catch (err) {
      expect(String((err as Error).message)).not.toContain(secretish);
      expect(JSON.stringify(err)).not.toContain(secretish);
    }
  });
});
