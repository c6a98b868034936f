/** The delivery-log reader and the manual re-sends the `api` command serves, on Postgres (src/api/store/). */
import type { Pool } from 'pg';
import { createPgDeliveryLogReader } from './store/pg-delivery-log-reader.js';
import { createPgManualResends } from './store/pg-manual-resends.js';
import type { DeliveryLogReader, ManualResends } from './store/types.js';

export function createApiStores(pool: Pool): { log: DeliveryLogReader; resends: ManualResends } {
  return { log: createPgDeliveryLogReader(pool), resends: createPgManualResends(pool) };
}
