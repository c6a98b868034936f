import { describe, expect, it } from '@jest/globals';
import { newApiKey, parseApiKey, sha256 } from '../../../src/api/api-keys.js';

describe('API key format whk_<id>_<secret>', () => {
  it('a new key parses back to its id and secret; the id satisfies the table check', () => {
    for (let i = 0; i < 50; i++) {
      const k = newApiKey();
      expect(k.key).toBe(`whk_${k.id}_${k.secret}`);
      expect(parseApiKey(k.key)).toEqual({ id: k.id, secret: k.secret });
      expect(k.id).toMatch(/^[a-z0-9]{8,64}$/);
      expect(Buffer.from(k.secret, 'base64url')).toHaveLength(32);
    }
  });

  it('a secret may contain _ and -: the id ends at the first _ after the prefix', () => {
    expect(parseApiKey('whk_abcdefgh_AAAA_BBBB-CCCCCCCCCC')).toEqual({
      id: 'abcdefgh',
      secret: 'AAAA_BBBB-CCCCCCCCCC',
    });
  });

  it('refuses anything else', () => {
    for (const bad of [
      '',
      'whk_',
      'whk_short_AAAAAAAAAAAAAAAAAAAA',
      'whk_ABCDEFGH_AAAAAAAAAAAAAAAAAAAA',
      'whk_abcdefgh_short',
      'xyz_abcdefgh_AAAAAAAAAAAAAAAAAAAA',
      'whk_abcdefgh_AAAAAAAAAAAAAAAAAAAA ',
      'whk_abcdefgh_AAAAAAAAAAAAAAAA\nAAAA',
    ]) {
      expect([bad, parseApiKey(bad)]).toEqual([bad, undefined]);
    }
  });

  it('stores sha256 of the secret: 32 bytes', () => {
    expect(sha256('x')).toHaveLength(32);
    expect(sha256('x').toString('hex')).toBe(
      '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881',
    );
  });
});
