/**
 * An inbound record and its decoded event, as the record path hands them on: offset 5 of topic `t`, project
 * P1's `request.create` with an empty JSON payload. Tests override what they are about.
 */
import type { InboundRecord, TiledeskEvent } from '../../src/events/event.js';

export function inboundRecord(overrides: Partial<InboundRecord> = {}): InboundRecord {
  return {
    topic: 't',
    partition: 0,
    offset: '5',
    timestamp: '0',
    key: null,
    value: null,
    headers: {},
    ...overrides,
  };
}

export function tiledeskEvent(overrides: Partial<TiledeskEvent> = {}): TiledeskEvent {
  return {
    id: 'e',
    event: 'request.create',
    idProject: 'P1',
    timestamp: 0,
    payload: Buffer.from('{}'),
    encoding: 'json',
    ...overrides,
  };
}
