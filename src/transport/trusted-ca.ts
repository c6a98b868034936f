import tls from 'node:tls';

/**
 * TLS `ca` replaces the trust store instead of adding to it, so extra CAs are appended to Node's bundled
 * roots; without extra CAs nothing is passed and Node's default store (NODE_EXTRA_CA_CERTS included) applies.
 */
export function trustedCa(extraCaCerts: readonly string[] | undefined): { ca?: string[] } {
  if (extraCaCerts === undefined || extraCaCerts.length === 0) return {};
  return { ca: [...tls.rootCertificates, ...extraCaCerts] };
}
