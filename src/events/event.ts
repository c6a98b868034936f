/** A decoded, validated Tiledesk event, whatever encoding it came in. */
export interface TiledeskEvent {
  /** Producer's id, or `<topic>-<partition>-<offset>` when it gave none (stable across redeliveries). */
  readonly id: string;
  readonly event: string;
  readonly idProject: string | null;
  /** Epoch milliseconds. */
  readonly timestamp: number;
  /**
   * `JSON.stringify(payload)` as UTF-8 bytes, computed once per event and shared by every delivery of it.
   * Neither the parsed payload nor its JSON string is kept: only these bytes go out, and a record can wait
   * in the in-flight window for a while — on the JS heap its data would be promoted to the old generation
   * and cost GC time; a Buffer's bytes live outside the heap.
   */
  readonly payload: Buffer;
  readonly encoding: 'json' | 'avro';
}

/** Where a record came from: enough to derive an id and to write a dead letter. */
export interface RecordCoordinates {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

/**
 * A record as consumed, before decoding: what the pipeline, the delivery store and the dead-letter topic
 * keep of it (the original key, value and headers go to the dead letter unchanged).
 */
export interface InboundRecord extends RecordCoordinates {
  /** Broker/producer timestamp, epoch ms as a string (kafkajs form). */
  readonly timestamp: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, Buffer | string | (Buffer | string)[] | undefined>>;
}

export function derivedEventId(c: RecordCoordinates): string {
  return `${c.topic}-${c.partition}-${c.offset}`;
}
