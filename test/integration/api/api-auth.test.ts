/**
 * Who may call the management API: API keys (Bearer, Basic password), revoked at once; platform JWTs
 * (HS256 or RS256 as configured, `JWT <token>` or Bearer), with the algorithm pinned, `exp` required and
 * enforced, issuer and audience checked, and the role deciding what the caller may do.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { generateKeyPair, exportSPKI, SignJWT, type JWTPayload } from 'jose';
import { startTestApi, type TestApi } from '../../support/api-server.js';

const SECRET = 'auth-test-hs256-secret-0123456789abcdefgh';
const P = 'proj-auth';
let hs: TestApi;
let rs: TestApi;
let rsKeys: Awaited<ReturnType<typeof generateKeyPair>>;

beforeAll(async () => {
  rsKeys = await generateKeyPair('RS256');
  hs = await startTestApi('api_auth_hs', {
    jwt: { API_JWT_SECRET: SECRET, API_JWT_ISSUER: 'tiledesk', API_JWT_AUDIENCE: 'webhooks' },
  });
  rs = await startTestApi('api_auth_rs', {
    jwt: {
      API_JWT_PUBLIC_KEY: await exportSPKI(rsKeys.publicKey),
      API_JWT_PROJECT_CLAIM: 'project',
      API_JWT_ROLE_CLAIM: 'r',
    },
  });
});
afterAll(async () => {
  await hs.stop();
  await rs.stop();
});

const hsToken = (
  claims: JWTPayload,
  o: { exp?: string | number; iss?: string; aud?: string } = {},
): Promise<string> => {
  let t = new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(o.iss ?? 'tiledesk')
    .setAudience(o.aud ?? 'webhooks');
  if (o.exp !== undefined) t = t.setExpirationTime(o.exp);
  return t.sign(new TextEncoder().encode(SECRET));
};
const list = (api: TestApi, authorization: string | undefined, project = P) =>
  api.call(
    'GET',
    `/${project}/subscriptions`,
    authorization === undefined ? {} : { headers: { authorization } },
  );

describe('API keys', () => {
  it('Bearer and Basic (the key as password) are accepted; a wrong secret or unknown id is 401', async () => {
    const key = await hs.projectKey(P);
    expect((await list(hs, `Bearer ${key}`)).status).toBe(200);
    expect((await list(hs, `Basic ${Buffer.from(`anyone:${key}`).toString('base64')}`)).status).toBe(200);
    const wrong = `${key.slice(0, -2)}${key.endsWith('AA') ? 'BB' : 'AA'}`;
    for (const auth of [
      undefined,
      `Bearer ${wrong}`,
      'Bearer whk_unknown00_AAAAAAAAAAAAAAAAAAAA',
      'Bearer nonsense',
      'Digest x',
    ]) {
      const r = await list(hs, auth);
      expect([auth, r.status, r.json]).toEqual([
        auth,
        401,
        { success: false, code: 'CONNECTOR_API_UNAUTHORIZED', msg: expect.any(String) },
      ]);
    }
  });

  it('only sha256 of the secret is stored', async () => {
    const { info, key } = await hs.keys.create({ idProject: P, name: 'hash' });
    const row = (await hs.pool.query('select * from webhook_api_keys where id = $1', [info.id])).rows[0];
    const secret = key.split('_').slice(2).join('_');
    expect(JSON.stringify(row)).not.toContain(secret);
    expect(row.secret_sha256).toEqual(createHash('sha256').update(secret).digest());
  });

  it('a revoked key is refused from the next request on', async () => {
    const { info, key } = await hs.keys.create({ idProject: P, name: 'to revoke' });
    expect((await list(hs, `Bearer ${key}`)).status).toBe(200);
    await hs.keys.revoke(info.id);
    expect((await list(hs, `Bearer ${key}`)).status).toBe(401);
  });

  it('a platform key acts on every project', async () => {
    const key = await hs.platformKey();
    expect((await list(hs, `Bearer ${key}`, 'any-project')).status).toBe(200);
  });
});

describe('JWTs', () => {
  it("HS256: `JWT <token>` (Tiledesk's scheme) or Bearer; owner/admin on their project, platform anywhere", async () => {
    const owner = await hsToken({ id_project: P, role: 'owner', sub: 'u1' }, { exp: '5m' });
    expect((await list(hs, `JWT ${owner}`)).status).toBe(200);
    expect((await list(hs, `Bearer ${owner}`)).status).toBe(200);
    expect((await list(hs, `JWT ${owner}`, 'another')).status).toBe(403);
    const admin = await hsToken({ id_project: P, role: 'admin', sub: 'u2' }, { exp: '5m' });
    const created = await hs.call('POST', `/${P}/subscriptions`, {
      headers: { authorization: `JWT ${admin}` },
      body: { event: 'request.create', target: 'https://jwt.example/' },
    });
    expect(created.json).toMatchObject({ createdBy: 'u2' });
    // A token shaped like Tiledesk's own: `sub` is the principal type, `_id` the user.
    const tiledeskShaped = await hsToken(
      { id_project: P, role: 'owner', sub: 'user', _id: '5e1f2a3b4c5d6e7f8a9b0c1d' },
      { exp: '5m' },
    );
    const created2 = await hs.call('POST', `/${P}/subscriptions`, {
      headers: { authorization: `JWT ${tiledeskShaped}` },
      body: { event: 'request.close', target: 'https://jwt.example/' },
    });
    expect(created2.json).toMatchObject({ createdBy: '5e1f2a3b4c5d6e7f8a9b0c1d' });
    const platform = await hsToken({ role: 'platform' }, { exp: '5m' });
    expect((await list(hs, `JWT ${platform}`, 'any-project')).status).toBe(200);
  });

  it('refuses an expired token, one without exp, another issuer or audience, or a role that may not', async () => {
    const cases: [string, string, number][] = [
      [
        'expired',
        await hsToken({ id_project: P, role: 'owner' }, { exp: Math.floor(Date.now() / 1000) - 10 }),
        401,
      ],
      ['no exp', await hsToken({ id_project: P, role: 'owner' }), 401],
      ['issuer', await hsToken({ id_project: P, role: 'owner' }, { exp: '5m', iss: 'evil' }), 401],
      ['audience', await hsToken({ id_project: P, role: 'owner' }, { exp: '5m', aud: 'other' }), 401],
      ['agent role', await hsToken({ id_project: P, role: 'agent' }, { exp: '5m' }), 403],
      ['no project', await hsToken({ role: 'owner' }, { exp: '5m' }), 403],
      [
        'other key',
        await new SignJWT({ id_project: P, role: 'owner' })
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuer('tiledesk')
          .setAudience('webhooks')
          .setExpirationTime('5m')
          .sign(new TextEncoder().encode('another-secret-0123456789abcdefghijkl')),
        401,
      ],
    ];
    for (const [name, token, status] of cases) {
      const r = await list(hs, `JWT ${token}`);
      expect([name, r.status]).toEqual([name, status]);
    }
  });

  it('RS256: the configured claim names; the algorithm is pinned (an HS256 token is refused)', async () => {
    const good = await new SignJWT({ project: P, r: 'admin' })
      .setProtectedHeader({ alg: 'RS256' })
      .setExpirationTime('5m')
      .sign(rsKeys.privateKey);
    expect((await list(rs, `JWT ${good}`)).status).toBe(200);
    const hsSigned = await new SignJWT({ project: P, r: 'admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(await exportSPKI(rsKeys.publicKey)));
    expect((await list(rs, `JWT ${hsSigned}`)).status).toBe(401);
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ project: P, r: 'admin', exp: 9e9 })).toString('base64url')}.`;
    expect((await list(rs, `JWT ${none}`)).status).toBe(401);
  });

  it('JWTs are refused when no JWT key is configured', async () => {
    const api = await startTestApi('api_auth_nojwt');
    try {
      const token = await hsToken({ id_project: P, role: 'owner' }, { exp: '5m' });
      expect((await list(api, `JWT ${token}`)).status).toBe(401);
    } finally {
      await api.stop();
    }
  });
});
