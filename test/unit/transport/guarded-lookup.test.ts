import { describe, expect, it } from '@jest/globals';
import type { LookupAddress, LookupOptions } from 'node:dns';
import {
  createGuardedLookup,
  checkLiteralHost,
  TargetForbiddenError,
} from '../../../src/transport/guarded-lookup.js';
import { parseAllowList } from '../../../src/transport/target-guard.js';
import type { LookupFn } from '../../../src/transport/types.js';

const none = parseAllowList([]);

function answering(...addresses: string[]): LookupFn {
  return (_hostname, _options, callback) =>
    callback(
      null,
      addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
    );
}

/** Calls the guarded lookup the way net.connect does, and returns what it answered. */
function resolve(lookup: LookupFn, options: LookupOptions, allow = none) {
  return new Promise<{
    err: NodeJS.ErrnoException | null;
    address: string | LookupAddress[];
    family?: number;
  }>((done) =>
    createGuardedLookup(allow, lookup)('target.example', options, (err, address, family) =>
      done({ err, address, family }),
    ),
  );
}

describe('createGuardedLookup', () => {
  it('answers every address for net.connect with all: true (happy eyeballs)', async () => {
    const { err, address } = await resolve(answering('93.184.216.34', '2606:4700::1111'), { all: true });
    expect(err).toBeNull();
    expect(address).toEqual([
      { address: '93.184.216.34', family: 4 },
      { address: '2606:4700::1111', family: 6 },
    ]);
  });

  it('answers the first address of the wanted family otherwise', async () => {
    expect(await resolve(answering('93.184.216.34', '2606:4700::1111'), { family: 6 })).toMatchObject({
      err: null,
      address: '2606:4700::1111',
      family: 6,
    });
  });

  it('refuses the whole answer when any address is forbidden', async () => {
    const { err } = await resolve(answering('93.184.216.34', '10.0.0.7'), { all: true });
    expect(err).toBeInstanceOf(TargetForbiddenError);
    expect((err as TargetForbiddenError).reason).toBe('private');
  });

  it('passes allow-listed addresses', async () => {
    const { err, address } = await resolve(answering('10.0.0.7'), {}, parseAllowList(['10.0.0.0/8']));
    expect(err).toBeNull();
    expect(address).toBe('10.0.0.7');
  });

  it('reports ENOTFOUND for an empty answer', async () => {
    const { err } = await resolve(answering(), { all: true });
    expect(err?.code).toBe('ENOTFOUND');
  });

  it('passes lookup errors through', async () => {
    const failing: LookupFn = (_h, _o, callback) =>
      callback(Object.assign(new Error('EAI_AGAIN'), { code: 'EAI_AGAIN' }), []);
    expect((await resolve(failing, {})).err?.code).toBe('EAI_AGAIN');
  });
});

describe('checkLiteralHost', () => {
  it('refuses forbidden IP literals, bracketed or not, and ignores hostnames', () => {
    expect(() => checkLiteralHost('127.0.0.1', none)).toThrow(TargetForbiddenError);
    expect(() => checkLiteralHost('[::1]', none)).toThrow(TargetForbiddenError);
    expect(() => checkLiteralHost('::ffff:169.254.169.254', none)).toThrow(TargetForbiddenError);
    expect(() => checkLiteralHost('93.184.216.34', none)).not.toThrow();
    expect(() => checkLiteralHost('example.com', none)).not.toThrow();
  });
});
