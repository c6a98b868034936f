/**
 * What a delivery needs from its subscription that depends on the subscription alone: the `hook` JSON,
 * the JWT and the Standard Webhooks keys. Computed once per subscription version (a WeakMap keyed by the
 * immutable Subscription object; a reload yields new objects), never per delivery or attempt.
 */
import { createSecretKey, type KeyObject } from 'node:crypto';
import type { Subscription } from '../subscriptions/types.js';
import { envelopeParts, type EnvelopeParts } from './envelope.js';
import { originOf } from './origin-slots.js';
import { signJwtHs256 } from './jwt.js';
import { standardWebhooksKey } from './signing.js';

export const TILEDESK_ISSUER = 'https://tiledesk.com';

export interface PreparedSubscription extends EnvelopeParts {
  readonly subscription: Subscription;
  /** Tiledesk's `hook` object, serialised. Never contains `secret` or `global`. */
  readonly hookJson: string;
  readonly token: string;
  /** Current key first; the previous one while a rotation overlap lasts. */
  readonly standardKeys: readonly KeyObject[];
  /** The secret's UTF-8 bytes as a key, for the X-Hub-Signature HMACs (built once, not per delivery). */
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

export function prepareSubscription(s: Subscription, nowMs: number): PreparedSubscription {
  const keys = [createSecretKey(standardWebhooksKey(s.secret))];
  if (s.previousSecret && s.previousSecretExpiresAt && s.previousSecretExpiresAt.getTime() > nowMs) {
    keys.push(createSecretKey(standardWebhooksKey(s.previousSecret)));
  }
  const hookJson = JSON.stringify(hookOf(s));
  const token = signJwtHs256(tokenClaims(s, Math.floor(nowMs / 1000)), s.secret);
  return {
    subscription: s,
    hookJson,
    token,
    ...envelopeParts(hookJson, token),
    standardKeys: keys,
    hubKey: createSecretKey(Buffer.from(s.secret, 'utf8')),
    origin: originOf(s.target),
  };
}

export class PreparedSubscriptions {
  private readonly cache = new WeakMap<Subscription, PreparedSubscription>();
  constructor(private readonly now: () => number) {}

  get(s: Subscription): PreparedSubscription {
    let p = this.cache.get(s);
    // A rotation overlap that ended changes the key list: re-prepare then.
    if (!p || (p.standardKeys.length > 1 && (s.previousSecretExpiresAt?.getTime() ?? 0) <= this.now())) {
      p = prepareSubscription(s, this.now());
      this.cache.set(s, p);
    }
    return p;
  }
}
