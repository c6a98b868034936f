export type DeliveryStatus = 'delivered' | 'failed' | 'pending'; // pending = parked or retrying; failed = dead-lettered / permanent
export interface AttemptView {
  readonly attemptedAt: Date;
  readonly attempt: number;
  readonly trigger: 'scheduled' | 'manual';
  readonly result: 'delivered' | 'retryable' | 'permanent';
  readonly reason: string | null;
  readonly statusCode: number | null;
  readonly durationMs: number;
  readonly error: string | null;
  readonly responseExcerpt: string | null;
  readonly instance: string;
  readonly target: string;
}
export interface DeliveryView {
  readonly id: string; // webhook-id
  readonly subscriptionId: string;
  readonly idProject: string;
  readonly event: string;
  readonly eventId: string;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  readonly lastAttemptAt: Date;
  readonly lastStatusCode: number | null;
  readonly nextAttemptAt: Date | null; // parked due time
}
export interface DeliveryFilter {
  readonly idProject: string;
  readonly subscriptionId: string;
  readonly status?: DeliveryStatus;
  readonly statusClass?: '2xx' | '3xx' | '4xx' | '5xx' | 'none';
  readonly since?: Date;
  readonly until?: Date;
  readonly limit: number; // 1..250
  readonly before?: string; // opaque cursor from the previous page (newest first)
}
export interface HistoryRow {
  // Tiledesk's SubscriptionLog shape (tiledesk-webhooks.md §1)
  readonly _id: string;
  readonly event: string;
  readonly target: string;
  readonly response: string;
  readonly jsonRequest: string;
  readonly body: string;
  readonly err: string | null;
  readonly id_project: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly __v: 0;
  // Extensions, additive (a Tiledesk client ignores them):
  readonly webhook_id: string;
  readonly attempt: number;
  readonly status_code: number | null;
  readonly duration_ms: number;
  readonly subscription_id: string;
}
export interface DeliveryLogReader {
  /**
   * Newest first, 40 per page, page 0-based like Tiledesk (`?page=N`). Rows of subscriptions of idProject;
   * those of global subscriptions (every project's events) only for a platform caller (`platform`).
   */
  history(idProject: string, page: number, platform?: boolean): Promise<HistoryRow[]>;
  deliveries(f: DeliveryFilter): Promise<{ items: DeliveryView[]; next: string | null }>;
  /** undefined when the delivery is not of that project (never reveal other projects' deliveries). */
  delivery(
    idProject: string,
    webhookId: string,
    platform?: boolean,
  ): Promise<{ delivery: DeliveryView; attempts: AttemptView[] } | undefined>;
}
export interface ManualResends {
  /** Parks the delivery (due now, parked_reason 'manual', same webhook-id) so the connector's parked runner sends it.
   *  'not_found' when not of that project or its message is no longer kept; an already parked one is made due now. */
  resend(idProject: string, webhookId: string, platform?: boolean): Promise<'queued' | 'not_found'>;
  /** Re-sends the subscription's deliveries whose latest state is failed since `since`; returns how many were queued. */
  recover(idProject: string, subscriptionId: string, since: Date, platform?: boolean): Promise<number>;
  /** An example event for the subscription (event name = the subscription's, payload a small example with id_project), queued like a resend; returns its webhook-id. */
  sendTest(idProject: string, subscriptionId: string, platform?: boolean): Promise<string>;
}
