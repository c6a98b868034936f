/**
 * The management API while it stops: a request already running finishes with its answer; one that reaches
 * the server once it is closing (here pipelined on the busy connection) is not run and gets the API's own
 * error shape, 503 `CONNECTOR_API_SHUTTING_DOWN`, with the connection closed.
 */
import { expect, it } from '@jest/globals';
import { rawConnection, startTestApi } from '../../support/api-server.js';
import { createMemoryDeliveryLog } from '../../support/memory-delivery-log.js';
import { waitFor } from '../../support/wait.js';

it('a request that arrives while the API closes gets a JSON 503; the one in flight still answers', async () => {
  const memory = createMemoryDeliveryLog();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let entered = false;
  const log = {
    ...memory,
    async history(idProject: string, page: number) {
      entered = true;
      await gate;
      return memory.history(idProject, page);
    },
  };
  const api = await startTestApi('api_shutdown', { log });
  let stopped = false;
  try {
    const key = await api.projectKey('P');
    const conn = rawConnection(api.url);
    conn.get('/P/subscriptions/history?page=0', key);
    await waitFor(async () => entered, { message: 'the first request in the log reader' });
    const closed = api.api.app.close();
    // The server is closing; the connection is busy, so it stays open for the next request.
    await new Promise((resolve) => setTimeout(resolve, 100));
    conn.get('/P/subscriptions', key);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(conn.received()).toBe('');
    release();
    await closed;
    await conn.ended;

    const responses = conn.responses();
    expect(responses).toHaveLength(2);
    expect(responses[0]!.head).toMatch(/^HTTP\/1\.1 200 /);
    expect(responses[0]!.body).toBe('[]');
    expect(responses[1]!.head).toMatch(/^HTTP\/1\.1 503 /);
    expect(responses[1]!.head).toMatch(/\r\nconnection: close(\r\n|$)/i);
    expect(JSON.parse(responses[1]!.body)).toEqual({
      success: false,
      code: 'CONNECTOR_API_SHUTTING_DOWN',
      msg: 'this instance is shutting down; send the request again',
    });
    // Counted in the request metrics like any answer.
    const metrics = await api.registry.getSingleMetricAsString('webhook_connector_api_requests_total');
    expect(metrics).toContain('{route="/:projectid/subscriptions",method="GET",status_code="503"} 1');
    stopped = true;
  } finally {
    if (!stopped) release();
    await api.stop();
  }
});
