/**
 * The event the delivery tests produce: project P1's `request.create`, its id also in the payload (with
 * `extra` fields), so a receiver can tell which record a request carries (`payloadId`).
 */
export function requestCreate(id: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    id,
    event: 'request.create',
    id_project: 'P1',
    timestamp: Date.now(),
    payload: { id, ...extra },
  });
}

/** The payload id of a delivered request's body. */
export const payloadId = (body: string): string =>
  (JSON.parse(body) as { payload: { id: string } }).payload.id;
