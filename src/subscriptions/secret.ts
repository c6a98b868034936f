import { randomBytes as cryptoRandomBytes } from 'node:crypto';

export type RandomBytes = (size: number) => Buffer;

/**
 * A Standard Webhooks secret: `whsec_` + base64 of 32 bytes from a CSPRNG. The HMAC headers key on the
 * whole string's UTF-8 bytes, the Standard Webhooks signature on the decoded 32 bytes (DESIGN.md §4).
 */
export function generateSecret(randomBytes: RandomBytes = cryptoRandomBytes): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}
