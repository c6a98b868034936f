/** A webhook subscription as stored in `webhook_subscriptions` (Tiledesk's RestHook model plus `enabled`). */
export interface Subscription {
  readonly id: string;
  readonly idProject: string;
  readonly event: string;
  readonly target: string;
  readonly secret: string;
  /** During a secret rotation: the old secret, still used for a second Standard Webhooks signature. */
  readonly previousSecret: string | null;
  readonly previousSecretExpiresAt: Date | null;
  readonly global: boolean;
  readonly enabled: boolean;
  readonly createdBy: string;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** The read side the delivery pipeline needs: matching by Tiledesk's rule, in memory, no I/O. */
export interface SubscriptionIndex {
  /** Enabled subscriptions with `event` equal and (same project or global); each subscription once. */
  match(event: string, idProject: string | null): readonly Subscription[];
  get(id: string): Subscription | undefined;
  readonly size: number;
}
