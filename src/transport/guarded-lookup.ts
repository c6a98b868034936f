/**
 * The connect-time half of the target guard. Both transports hand `net.connect` this function as its
 * `lookup` option, so the addresses that are checked are exactly the ones the socket then connects to:
 * a DNS answer that changes between a pre-check and the connect (rebinding) cannot slip through, and
 * every new keep-alive connection resolves and checks again.
 *
 * `net.connect` skips `lookup` for IP-literal hosts, so each transport also calls `checkLiteralHost`
 * from its connector.
 */
import dns from 'node:dns';
import net from 'node:net';
import type { LookupFn } from './types.js';
import { checkAddress, stripBrackets, type AllowList } from './target-guard.js';

export class TargetForbiddenError extends Error {
  readonly code = 'TARGET_FORBIDDEN';
  readonly reason: string;
  constructor(reason: string, address: string, hostname?: string) {
    const what = hostname !== undefined && hostname !== address ? `${hostname} (${address})` : address;
    super(`target ${what} refused: ${reason}`);
    this.name = 'TargetForbiddenError';
    this.reason = reason;
  }
}

/** net's `lookup` option, which undici's connector and got (`dnsLookup`) pass through to net.connect. */
export type NetLookup = net.LookupFunction;

export const defaultLookup: LookupFn = (hostname, options, callback) =>
  dns.lookup(hostname, options, callback);

export function createGuardedLookup(allow: AllowList, lookup: LookupFn = defaultLookup): NetLookup {
  return (hostname, options, callback) => {
    lookup(hostname, { all: true }, (err, addresses) => {
      if (err) return callback(err, '');
      // Refuse if ANY answer is forbidden: a mixed answer is the classic way to race a check.
      for (const { address } of addresses) {
        const reason = checkAddress(address, allow);
        if (reason !== undefined) return callback(new TargetForbiddenError(reason, address, hostname), '');
      }
      const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family;
      const usable = addresses
        .filter((a) => (family !== 4 && family !== 6 ? true : a.family === family))
        .map((a) => ({ address: a.address, family: a.family }));
      const first = usable[0];
      if (first === undefined) return callback(notFound(hostname), '');
      if (options.all === true) return callback(null, usable);
      return callback(null, first.address, first.family);
    });
  };
}

/** For IP-literal hosts, which never reach `lookup`: throws TargetForbiddenError when refused. */
export function checkLiteralHost(host: string | null | undefined, allow: AllowList): void {
  const literal = stripBrackets(host ?? '');
  if (net.isIP(literal) === 0) return;
  const reason = checkAddress(literal, allow);
  if (reason !== undefined) throw new TargetForbiddenError(reason, literal);
}

function notFound(hostname: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
  err.code = 'ENOTFOUND';
  return err;
}
