/** Sample Tiledesk events shaped like the real payloads (a request, a message, a lead), for the demo and tests. */
import { randomUUID } from 'node:crypto';

export interface SampleEvent {
  readonly id: string;
  readonly event: string;
  readonly id_project: string | null;
  readonly timestamp: number;
  readonly payload: Record<string, unknown>;
}

export const SAMPLE_EVENT_NAMES = [
  'request.create',
  'message.create',
  'lead.create',
  'request.close',
] as const;

export function sampleEvent(event: string, idProject: string | null, now: number = Date.now()): SampleEvent {
  const requestId = `support-group-${idProject ?? 'none'}-${randomUUID().slice(0, 8)}`;
  const payload: Record<string, unknown> = event.startsWith('message')
    ? {
        _id: randomUUID(),
        text: 'Hello, I need help with my order',
        sender: 'visitor-42',
        recipient: requestId,
        type: 'text',
        status: 100,
        id_project: idProject,
        createdAt: new Date(now).toISOString(),
      }
    : event.startsWith('lead')
      ? {
          _id: randomUUID(),
          lead_id: 'visitor-42',
          fullname: 'Ada Lovelace',
          email: 'ada@example.com',
          id_project: idProject,
          createdAt: new Date(now).toISOString(),
        }
      : {
          _id: randomUUID(),
          request_id: requestId,
          status: event === 'request.close' ? 1000 : 200,
          first_text: 'Hello',
          channel: { name: 'chat21' },
          id_project: idProject,
          createdAt: new Date(now).toISOString(),
        };
  return { id: randomUUID(), event, id_project: idProject, timestamp: now, payload };
}
