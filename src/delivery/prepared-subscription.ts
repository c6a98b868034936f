/**
 * What a delivery needs from its subscription: the `hook` JSON, the keys, and the JWT for an event time.
 * Computed once per subscription version (a WeakMap keyed by the immutable Subscription object; a reload
 * yields new objects), never per delivery or attempt; the JWT once per (subscription, second of event
 * time), cached for the last few seconds seen.
 *
 * Every byte of a body comes from the event and the subscription row, so a redelivery (another attempt,
 * another instance, after a crash) carries the same bytes: the JWT's `iat` is the event's time in seconds
 * (when Tiledesk itself signs it, at notification). The one time-dependent choice is the rotation overlap:
 * while it lasts, the single-valued signatures (JWT, both X-Hub-Signature*, the legacy x-hook-secret) use
 * the PREVIOUS secret, so receivers still holding it keep verifying them; webhook-signature carries both.
 * When the overlap ends, everything switches to the new secret.
 */
import { createSecretKey, type KeyObject } from 'node:crypto';
import type { Subscription } from '../subscriptions/types.js';
import { envelopePrefix, envelopeSuffix, type EnvelopeParts } from './envelope.js';
import { originOf } from './origin-slots.js';
import { signJwtHs256Json, type JwtSigner } from './jwt.js';
import { standardWebhooksKey } from './signing.js';

export const TILEDESK_ISSUER = 'https://tiledesk.com';

/** Distinct event seconds whose JWT is kept per subscription (partitions interleave a few seconds). */
const TOKENS_KEPT = 8;

/** The envelope's parts (see envelope.ts) plus the keys and signatures' inputs. */
export interface PreparedSubscription extends EnvelopeParts {
  readonly subscription: Subscription;
  /** Tiledesk's `hook` object, serialised. Never contains `secret` or `global`. */
  readonly hookJson: string;
  /** The JWT issued at `iatSec`: keyed with `signingSecret`, or the platform's key for a global subscription. */
  token(iatSec: number): string;
  /** Current key first; the previous one while a rotation overlap lasts. */
  readonly standardKeys: readonly KeyObject[];
  /** The secret of the single-valued signatures: the previous one during a rotation overlap, else the current. */
  readonly signingSecret: string;
  /** `signingSecret`'s UTF-8 bytes as a key, for the X-Hub-Signature HMACs (built once, not per delivery). */
  readonly hubKey: KeyObject;
  /** scheme://host:port of the target: the unit of the per-receiver concurrency limit. */
  readonly origin: string;
}

export function hookOf(s: Subscription): Record<string, unknown> {
  return {
    _id: s.id,
    event: s.event,
    target: s.target,
    id_project: s.idProject,
    createdBy: s.createdBy,
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
  };
}

/** Tiledesk's claims: the hook plus iss/sub/aud (global subscriptions have the bare issuer as audience). */
export function tokenClaims(s: Subscription, issuedAtSec: number): Record<string, unknown> {
  return {
    ...hookOf(s),
    iat: issuedAtSec,
    iss: TILEDESK_ISSUER,
    sub: 'subscription',
    aud: s.global ? TILEDESK_ISSUER : `${TILEDESK_ISSUER}/subscriptions/${s.id}`,
  };
}

function overlapOpen(s: Subscription, nowMs: number): boolean {
  return s.previousSecret !== null && (s.previousSecretExpiresAt?.getTime() ?? 0) > nowMs;
}

/**
 * `globalJwt`: the platform's key for global subscriptions' JWT (GLOBAL_SECRET…, as Tiledesk signs them);
 * without it, a global subscription's JWT is keyed with its own secret like any other.
 */
export function prepareSubscription(
  s: Subscription,
  nowMs: number,
  globalJwt?: JwtSigner,
): PreparedSubscription {
  const overlap = overlapOpen(s, nowMs);
  const keys = [createSecretKey(standardWebhooksKey(s.secret))];
  if (overlap) keys.push(createSecretKey(standardWebhooksKey(s.previousSecret!)));
  const signingSecret = overlap ? s.previousSecret! : s.secret;
  const hubKey = createSecretKey(Buffer.from(signingSecret, 'utf8'));
  const hookJson = JSON.stringify(hookOf(s));
  // The claims' JSON around the iat, built once: a JWT for a new second costs one base64 and one HMAC.
  const claims = JSON.stringify(tokenClaims(s, 0));
  const [claimsHead, claimsTail] = splitAtIat(claims);
  const suffixes = new Map<number, Buffer>();
  const platformKey = s.global ? globalJwt : undefined;
  const token =
    platformKey !== undefined
      ? (iatSec: number): string => platformKey.sign(`${claimsHead}${iatSec}${claimsTail}`)
      : (iatSec: number): string => signJwtHs256Json(`${claimsHead}${iatSec}${claimsTail}`, hubKey);
  return {
    subscription: s,
    hookJson,
    envelopePrefix: envelopePrefix(hookJson),
    envelopeSuffix(iatSec) {
      let suffix = suffixes.get(iatSec);
      if (suffix === undefined) {
        suffix = envelopeSuffix(token(iatSec));
        if (suffixes.size >= TOKENS_KEPT) suffixes.delete(suffixes.keys().next().value!);
        suffixes.set(iatSec, suffix);
      }
      return suffix;
    },
    token,
    standardKeys: keys,
    signingSecret,
    hubKey,
    origin: originOf(s.target),
  };
}

/** `{…,"iat":0,…}` → [`{…,"iat":`, `,…}`]. The hook's own strings cannot contain `,"iat":0,"iss":` unescaped. */
function splitAtIat(claims: string): [string, string] {
  const marker = `,"iat":0,"iss":`;
  const at = claims.lastIndexOf(marker);
  return [claims.slice(0, at + ',"iat":'.length), claims.slice(at + ',"iat":0'.length)];
}

export class PreparedSubscriptions {
  private readonly cache = new WeakMap<Subscription, PreparedSubscription>();
  constructor(
    private readonly now: () => number,
    private readonly globalJwt?: JwtSigner,
  ) {}

  get(s: Subscription): PreparedSubscription {
    let p = this.cache.get(s);
    // A rotation overlap that ended changes the keys and the signing secret: re-prepare then.
    if (!p || (p.standardKeys.length > 1 && !overlapOpen(s, this.now()))) {
      p = prepareSubscription(s, this.now(), this.globalJwt);
      this.cache.set(s, p);
    }
    return p;
  }
}
