/**
 * The delivery-log reader and the manual re-sends the `api` command serves, on Postgres.
 *
 * Their SQL lives in src/api/store/ (the apistore branch, merged next). Until it is merged, the routes
 * that need them answer 503 CONNECTOR_DELIVERY_STORE_UNAVAILABLE; the subscription routes, auth and the
 * rest of the API do not depend on them. At the merge the body becomes
 * `{ log: createPgDeliveryLogReader(pool), resends: createPgManualResends(pool) }`
 * (./store/pg-delivery-log-reader.js, ./store/pg-manual-resends.js).
 */
import type { Pool } from 'pg';
import { ConnectorError, ErrorCode } from '../errors.js';
import type { DeliveryLogReader, ManualResends } from './store/types.js';

const unavailable = (): Promise<never> =>
  Promise.reject(
    new ConnectorError(
      ErrorCode.DELIVERY_STORE_UNAVAILABLE,
      'the delivery log is not available in this build',
    ),
  );

export function createApiStores(_pool: Pool): { log: DeliveryLogReader; resends: ManualResends } {
  return {
    log: { history: unavailable, deliveries: unavailable, delivery: unavailable },
    resends: { resend: unavailable, recover: unavailable, sendTest: unavailable },
  };
}
