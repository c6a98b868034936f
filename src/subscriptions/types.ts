/**
 * How a subscription's deliveries are ordered (README "Ordering"): `concurrent` (the default) sends them in
 * parallel, no order; `ordered` sends those of one record key one after another, in record order.
 */
export type SubscriptionOrdering = 'concurrent' | 'ordered';

export const SUBSCRIPTION_ORDERINGS: readonly SubscriptionOrdering[] = ['concurrent', 'ordered'];

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
  readonly ordering: SubscriptionOrdering;
  /** Why it was disabled: `gone` (410), `failing` (no 2xx for too long), `operator` (CLI); null when enabled. */
  readonly disabledReason: string | null;
  readonly disabledAt: Date | null;
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

/** What `list` shows: a subscription without its secrets. */
export type SubscriptionInfo = Omit<Subscription, 'secret' | 'previousSecret'>;

/** Input of `SubscriptionStore.add`; `secret` is generated when left out. */
export interface NewSubscription {
  readonly idProject: string;
  readonly event: string;
  readonly target: string;
  readonly createdBy: string;
  readonly global?: boolean;
  readonly secret?: string;
  /** Default `concurrent`. */
  readonly ordering?: SubscriptionOrdering;
}

/** What `SubscriptionStore.update` may change (the API's PUT): the rest of a subscription is not editable. */
export interface SubscriptionChange {
  readonly event?: string;
  readonly target?: string;
}

/** The write side (CLI) and the loads the snapshot needs. Implemented on Postgres by `pg-store.ts`. */
export interface SubscriptionStore {
  /** Validates (SUBSCRIPTION_INVALID), inserts, and returns the row with its secret: the only time it is shown. */
  add(input: NewSubscription): Promise<Subscription>;
  list(filter?: { readonly idProject?: string }): Promise<SubscriptionInfo[]>;
  /** With secrets; undefined when there is no such id. */
  get(id: string): Promise<Subscription | undefined>;
  /** The project's subscription of `event` to `target` (the unique key), with secrets; undefined when none. */
  findByKey(idProject: string, event: string, target: string): Promise<Subscription | undefined>;
  /**
   * Changes event and/or target (validated as `add`: SUBSCRIPTION_INVALID, also when the project already
   * has that event and target); SUBSCRIPTION_NOT_FOUND when there is no such id.
   */
  update(id: string, change: SubscriptionChange): Promise<SubscriptionInfo>;
  /** SUBSCRIPTION_NOT_FOUND when there is no such id (same for setEnabled and rotateSecret). */
  remove(id: string): Promise<void>;
  /**
   * Enabling clears the disabled reason and time; disabling records `reason` (default `operator`) and the
   * time, unless the subscription was already disabled (its first reason stays).
   */
  setEnabled(id: string, enabled: boolean, reason?: string): Promise<SubscriptionInfo>;
  /** SUBSCRIPTION_INVALID for anything but `concurrent` or `ordered`. */
  setOrdering(id: string, ordering: SubscriptionOrdering): Promise<SubscriptionInfo>;
  /** New secret; the old one stays as `previousSecret` for `overlapMs` (0 = dropped at once). */
  rotateSecret(id: string, overlapMs: number): Promise<string>;
  /** Every enabled subscription, with secrets: the snapshot's full load. */
  loadEnabled(): Promise<Subscription[]>;
  /** The rows with these ids, enabled or not (a missing id was deleted): the snapshot's partial reload. */
  loadByIds(ids: readonly string[]): Promise<Subscription[]>;
}
