import { describe, expect, it } from '@jest/globals';
import {
  checkAddress,
  checkUrl,
  memoCheckUrl,
  isForbiddenAddress,
  parseAllowList,
} from '../../../src/transport/target-guard.js';
import { isConnectorError } from '../../../src/errors.js';
import { HOSTILE_TARGETS } from '../../support/ssrf-corpus.js';

const none = parseAllowList([]);

describe('checkUrl refuses hostile targets', () => {
  const hostile = HOSTILE_TARGETS;

  it.each(hostile)('%s → %s (%s)', (url, code) => {
    const result = checkUrl(url, none);
    expect(result).toMatchObject({ ok: false, code });
  });

  it('covers at least 30 hostile targets', () => {
    expect(hostile.length).toBeGreaterThanOrEqual(30);
  });
});

describe('checkUrl lets public targets through', () => {
  it.each([
    'https://crm.example.com/hooks',
    'http://93.184.216.34/',
    'https://93.184.216.34:8443/x?y=1',
    'https://[2606:4700::1111]/',
    'http://[::ffff:93.184.216.34]/',
    'http://[64:ff9b::5db8:d822]/', // NAT64 of a public address: how IPv6-only clusters reach IPv4
    'http://[2002:5db8:d822::1]/', // 6to4 of a public address
  ])('%s', (url) => {
    expect(checkUrl(url, none).ok).toBe(true);
  });

  it('leaves hostnames to the connect-time lookup', () => {
    // localhost is refused when it resolves, not on its name: the address is what counts.
    expect(checkUrl('http://localhost:8080/', none).ok).toBe(true);
  });
});

describe('checkAddress', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['::ffff:127.0.0.1', 'ipv4Mapped:loopback'],
    ['64:ff9b::a9fe:a9fe', 'rfc6052:linkLocal'],
    ['2002:7f00:1::', '6to4:loopback'],
    ['fe80::1%eth0', 'linkLocal'],
  ])('%s is refused as %s', (ip, reason) => {
    expect(checkAddress(ip, none)).toBe(reason);
  });

  it.each(['93.184.216.34', '8.8.8.8', '1.1.1.1', '2606:4700::1111', '2a00:1450:4001:80b::200e'])(
    '%s is public',
    (ip) => {
      expect(checkAddress(ip, none)).toBeUndefined();
      expect(isForbiddenAddress(ip, none)).toBe(false);
    },
  );

  it('refuses strings that are not canonical IP addresses rather than guessing', () => {
    expect(checkAddress('127.1', none)).toBe('not-an-ip-address');
    expect(checkAddress('example.com', none)).toBe('not-an-ip-address');
  });
});

describe('allow-list', () => {
  const allow = parseAllowList(['127.0.0.1/32', '10.20.0.0/16', 'fd12::/16']);

  it('opens exactly the listed ranges', () => {
    expect(isForbiddenAddress('127.0.0.1', allow)).toBe(false);
    expect(isForbiddenAddress('127.0.0.2', allow)).toBe(true);
    expect(isForbiddenAddress('10.20.3.4', allow)).toBe(false);
    expect(isForbiddenAddress('10.21.0.1', allow)).toBe(true);
    expect(isForbiddenAddress('fd12::1', allow)).toBe(false);
    expect(isForbiddenAddress('fd13::1', allow)).toBe(true);
    expect(checkUrl('http://127.0.0.1:3000/hook', allow).ok).toBe(true);
    expect(checkUrl('http://127.0.0.2:3000/hook', allow).ok).toBe(false);
  });

  it('treats an IPv4-mapped address as its IPv4 host', () => {
    expect(isForbiddenAddress('::ffff:127.0.0.1', allow)).toBe(false);
    expect(isForbiddenAddress('::ffff:127.0.0.2', allow)).toBe(true);
  });

  it('does not open URL-level rules', () => {
    expect(checkUrl('http://u:p@127.0.0.1/', allow).ok).toBe(false);
    expect(checkUrl('gopher://127.0.0.1/', allow).ok).toBe(false);
  });

  it.each([['127.0.0.1'], ['10.0.0.0/33'], ['127.1/32'], ['fd00::/129'], ['nonsense/8'], ['']])(
    'rejects the malformed CIDR %j when built',
    (cidr) => {
      let thrown: unknown;
      try {
        parseAllowList([cidr]);
      } catch (err) {
        thrown = err;
      }
      expect(isConnectorError(thrown, 'CONNECTOR_CONFIG_INVALID')).toBe(true);
    },
  );
});

describe('memoCheckUrl', () => {
  it('answers like checkUrl, remembers per target, and stays bounded', () => {
    const allow = parseAllowList(['127.0.0.1/32']);
    const check = memoCheckUrl(allow, 2);
    const a = check('http://127.0.0.1:4000/a?x=1');
    expect(a).toEqual({
      ...checkUrl('http://127.0.0.1:4000/a?x=1', allow),
      origin: 'http://127.0.0.1:4000',
      pathAndQuery: '/a?x=1',
    });
    expect(check('http://127.0.0.1:4000/a?x=1')).toBe(a);
    expect(check('http://10.0.0.1/')).toEqual({
      ok: false,
      code: 'TARGET_FORBIDDEN',
      reason: checkAddress('10.0.0.1', allow),
    });
    check('http://127.0.0.1:4000/c'); // third entry: the memo starts over
    expect(check('http://127.0.0.1:4000/a?x=1')).not.toBe(a);
    expect(check('http://127.0.0.1:4000/a?x=1')).toEqual(a);
  });
});
