/**
 * The outage scenarios read the connector's /metrics (bench/lib/prom.ts): parks by reason, paused
 * partitions, parked claims. Checked against a hand-written exposition.
 */
import { describe, expect, it } from '@jest/globals';
import { promByLabel, promSum } from '../../../bench/lib/prom.js';

const TEXT = `# HELP webhook_connector_parks_total Deliveries parked, by reason.
# TYPE webhook_connector_parks_total counter
webhook_connector_parks_total{reason="retry"} 12
webhook_connector_parks_total{reason="circuit"} 3000
webhook_connector_parks_total{reason="spill"} 0
# TYPE webhook_connector_paused_partitions gauge
webhook_connector_paused_partitions 2
webhook_connector_parked_claims_total 1.5e3
webhook_connector_parks_total_extra{reason="retry"} 99
webhook_connector_circuit_state{subscription_id="a,b=\\"c\\""} 0.5
`;

describe('promSum', () => {
  it('sums every sample of a metric', () => {
    expect(promSum(TEXT, 'webhook_connector_parks_total')).toBe(3012);
  });
  it('reads an unlabelled sample, exponent notation included', () => {
    expect(promSum(TEXT, 'webhook_connector_paused_partitions')).toBe(2);
    expect(promSum(TEXT, 'webhook_connector_parked_claims_total')).toBe(1500);
  });
  it('keeps only samples whose labels match', () => {
    expect(promSum(TEXT, 'webhook_connector_parks_total', { reason: 'circuit' })).toBe(3000);
    expect(promSum(TEXT, 'webhook_connector_parks_total', { reason: 'behind' })).toBe(0);
  });
  it('is 0 for a metric not exposed', () => {
    expect(promSum(TEXT, 'webhook_connector_nothing')).toBe(0);
  });
});

describe('promByLabel', () => {
  it('groups a metric by one label', () => {
    expect(promByLabel(TEXT, 'webhook_connector_parks_total', 'reason')).toEqual({
      retry: 12,
      circuit: 3000,
      spill: 0,
    });
  });
  it('reads quoted label values with escapes and commas', () => {
    expect(promByLabel(TEXT, 'webhook_connector_circuit_state', 'subscription_id')).toEqual({
      'a,b="c"': 0.5,
    });
  });
});
