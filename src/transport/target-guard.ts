/**
 * Address policy for customer-supplied webhook targets (SSRF guard). Pure: no I/O, no DNS.
 *
 * Only public unicast passes: anything ipaddr.js classifies as a special range is refused, IPv6 outside
 * the global-unicast block 2000::/3 is refused, and IPv6 forms that carry an IPv4 address (mapped,
 * compatible, translated, NAT64, 6to4, Teredo) are judged by that IPv4 address, so `[::ffff:127.0.0.1]`
 * is as forbidden as `127.0.0.1`. An allow-list of CIDRs re-opens chosen ranges (tests, on-premise).
 *
 * The transports apply `checkAddress` to the address they actually connect to (see guarded-lookup.ts);
 * `checkUrl` is only the cheap first pass on the URL text.
 */
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import { ConnectorError, ErrorCode } from '../errors.js';

type IPv4 = ipaddr.IPv4;
type IPv6 = ipaddr.IPv6;
type Address = IPv4 | IPv6;

export interface AllowList {
  readonly v4: readonly [IPv4, number][];
  readonly v6: readonly [IPv6, number][];
}

export type UrlCheck =
  | { readonly ok: true; readonly url: URL }
  | { readonly ok: false; readonly code: 'INVALID_URL' | 'TARGET_FORBIDDEN'; readonly reason: string };

/** Parses the allow-list once; a malformed entry throws so a bad config fails at start, not per request. */
export function parseAllowList(cidrs: readonly string[]): AllowList {
  const v4: [IPv4, number][] = [];
  const v6: [IPv6, number][] = [];
  for (const cidr of cidrs) {
    const [addr] = cidr.split('/');
    // ipaddr.js also accepts "127.1/32" and other legacy IPv4 spellings; an allow-list must be unambiguous.
    const valid = ipaddr.IPv4.isIPv4(addr ?? '')
      ? ipaddr.IPv4.isValidCIDRFourPartDecimal(cidr)
      : ipaddr.IPv6.isValidCIDR(cidr);
    if (!valid) {
      throw new ConnectorError(
        ErrorCode.CONFIG_INVALID,
        `allowCidrs: "${cidr}" is not a CIDR (address/prefix)`,
      );
    }
    const range = ipaddr.parseCIDR(cidr);
    if (range[0].kind() === 'ipv4') v4.push(range as [IPv4, number]);
    else v6.push(range as [IPv6, number]);
  }
  return { v4, v6 };
}

/** The reason `ip` may not be connected to, or undefined when it may. `ip` must be a plain IP string. */
export function checkAddress(ip: string, allow: AllowList): string | undefined {
  const literal = stripBrackets(ip);
  // net.isIP accepts only canonical spellings, the ones net.connect would use as-is; anything else is
  // not something we can reason about, so it is refused rather than re-interpreted.
  if (net.isIP(literal) === 0) return 'not-an-ip-address';
  const addr = ipaddr.parse(literal);
  if (isAllowListed(addr, allow)) return undefined;
  return forbiddenReason(addr);
}

export function isForbiddenAddress(ip: string, allow: AllowList): boolean {
  return checkAddress(ip, allow) !== undefined;
}

/** URL-level rules: http(s) only, no credentials, and an IP-literal host must pass `checkAddress`. */
export function checkUrl(raw: string, allow: AllowList): UrlCheck {
  let url: URL;
  try {
    // WHATWG parsing normalises 2130706433, 0x7f.1, 0177.0.0.1 and 127.1 to 127.0.0.1 for http(s).
    url = new URL(raw);
  } catch {
    return { ok: false, code: 'INVALID_URL', reason: 'invalid-url' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, code: 'TARGET_FORBIDDEN', reason: 'scheme' };
  }
  // "https://good.example@127.0.0.1/" tricks humans and lax parsers; receivers authenticate by signature.
  if (url.username !== '' || url.password !== '') {
    return { ok: false, code: 'TARGET_FORBIDDEN', reason: 'userinfo' };
  }
  if (url.hostname === '') return { ok: false, code: 'INVALID_URL', reason: 'no-host' };
  const host = stripBrackets(url.hostname);
  if (net.isIP(host) !== 0) {
    const reason = checkAddress(host, allow);
    if (reason !== undefined) return { ok: false, code: 'TARGET_FORBIDDEN', reason };
  }
  return { ok: true, url };
}

export function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function isAllowListed(addr: Address, allow: AllowList): boolean {
  if (addr.kind() === 'ipv4') {
    const v4 = addr as IPv4;
    return allow.v4.some((r) => v4.match(r)) || allow.v6.some((r) => v4.toIPv4MappedAddress().match(r));
  }
  const v6 = addr as IPv6;
  if (allow.v6.some((r) => v6.match(r))) return true;
  // An IPv4-mapped address is the IPv4 host itself on a dual-stack socket; other embeddings route elsewhere.
  return v6.isIPv4MappedAddress() && allow.v4.some((r) => v6.toIPv4Address().match(r));
}

function forbiddenReason(addr: Address): string | undefined {
  if (addr.kind() === 'ipv4') {
    const range = (addr as IPv4).range();
    return range === 'unicast' ? undefined : range;
  }
  return forbiddenV6Reason(addr as IPv6);
}

function forbiddenV6Reason(addr: IPv6): string | undefined {
  const range = addr.range();
  const p = addr.parts;
  const low32 = v4FromWords(p[6] ?? 0, p[7] ?? 0);
  switch (range) {
    case 'ipv4Mapped': // ::ffff:a.b.c.d
    case 'rfc6145': // ::ffff:0:a.b.c.d
      return embedded(range, low32);
    case 'rfc6052':
      // 64:ff9b::/96 is the well-known NAT64 prefix (IPv6-only clusters reach public IPv4 through it);
      // 64:ff9b:1::/48 is for local use, its embedding depends on the operator: refuse.
      return p[2] === 0 && p[3] === 0 && p[4] === 0 && p[5] === 0 ? embedded(range, low32) : 'rfc6052-local';
    case '6to4': // 2002:AABB:CCDD::/48 carries AA.BB.CC.DD
      return embedded(range, v4FromWords(p[1] ?? 0, p[2] ?? 0));
    case 'teredo': {
      // 2001:0:SSSS:SSSS:flags:port:CCCC:CCCC — server in clear, client obfuscated by XOR with 0xffff.
      const server = embedded(range, v4FromWords(p[2] ?? 0, p[3] ?? 0));
      return server ?? embedded(range, v4FromWords((p[6] ?? 0) ^ 0xffff, (p[7] ?? 0) ^ 0xffff));
    }
    case 'unicast':
      // Deprecated IPv4-compatible ::a.b.c.d (ipaddr.js calls it unicast; :: and ::1 matched earlier).
      if (p.slice(0, 6).every((w) => w === 0)) return embedded('ipv4Compatible', low32);
      // Only 2000::/3 is allocated global unicast; the rest is reserved or special-purpose.
      return ((p[0] ?? 0) & 0xe000) === 0x2000 ? undefined : 'reserved';
    default:
      return range;
  }
}

function embedded(kind: string, v4: IPv4): string | undefined {
  const inner = forbiddenReason(v4);
  return inner === undefined ? undefined : `${kind}:${inner}`;
}

function v4FromWords(high: number, low: number): IPv4 {
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

export type MemoUrlCheck =
  | { readonly ok: true; readonly url: URL; readonly origin: string; readonly pathAndQuery: string }
  | Extract<UrlCheck, { ok: false }>;

/**
 * `checkUrl` remembered per target string: targets repeat (one per subscription), and parsing plus the
 * address check cost more than anything else per attempt outside the HTTP client. Bounded: the memo is
 * dropped whole when it reaches `max` entries. The connect-time guard still checks every socket.
 */
export function memoCheckUrl(allow: AllowList, max = 10_000): (raw: string) => MemoUrlCheck {
  const memo = new Map<string, MemoUrlCheck>();
  return (raw) => {
    let result = memo.get(raw);
    if (result === undefined) {
      if (memo.size >= max) memo.clear();
      const checked = checkUrl(raw, allow);
      // origin and path are what a transport sends; URL computes them on every read.
      result = checked.ok
        ? {
            ok: true,
            url: checked.url,
            origin: checked.url.origin,
            pathAndQuery: `${checked.url.pathname}${checked.url.search}`,
          }
        : checked;
      memo.set(raw, result);
    }
    return result;
  };
}
