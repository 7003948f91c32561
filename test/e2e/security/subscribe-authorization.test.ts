import { afterAll, describe, expect, it } from 'vitest';
import type { Client } from 'graphql-ws';
import { eventually } from '../../support/calls.ts';
import { createCall } from '../../support/factories.ts';
import { graphqlWsClient, useApiTenant } from '../../support/graphql.ts';

/**
 * Threat: subscriptions authorised per event, not when they subscribe (security review F7):
 * a viewer's `callAudio` ran its `subscribe` — telling the call someone listens
 * (`call:listeners`), so the call published every audio frame on the bus — and then got a
 * FORBIDDEN error per chunk, forever; an anonymous SSE subscription ran too, failed inside
 * and answered a masked 500 with an error logged.
 * Defence: scope auth checks a subscription's scopes when it subscribes
 * (`authorizeOnSubscribe`): one error, and nothing is started; anonymous is 401
 * UNAUTHENTICATED.
 */

describe('a subscription the key may not have', () => {
  const api = useApiTenant();
  const clients: Client[] = [];
  afterAll(() => Promise.all(clients.map((client) => client.dispose())));

  it('viewer callAudio: refused at subscribe with one FORBIDDEN error; the call is never told someone listens', async () => {
    const call = await createCall(api.app.services.orm.em, api.tenant.businessId, { status: 'in-progress', durationSec: null });
    const listeners: unknown[] = [];
    const watching = api.app.services.bus.subscribe('call:listeners', call.id);
    void (async () => {
      for await (const change of watching) listeners.push(change);
    })();

    const client = graphqlWsClient(api.app.url, api.tenant.keys.viewer);
    clients.push(client);
    const results: { errors?: { message: string; extensions?: Record<string, unknown> }[] }[] = [];
    let completed = false;
    client.subscribe(
      { query: 'subscription($id: ID!) { callAudio(callId: $id) { track seq payload } }', variables: { id: call.id } },
      { next: (value) => void results.push(value as (typeof results)[number]), error: () => {}, complete: () => void (completed = true) },
    );
    await eventually(() => completed, Boolean, 'the subscription refused and completed');

    expect(results).toEqual([{ errors: [expect.objectContaining({ extensions: expect.objectContaining({ code: 'FORBIDDEN' }) })] }]);
    // The refusal came before `subscribe` ran, and the bus is in-process: nothing was published.
    expect(listeners).toEqual([]);
    await watching.return();
  });

  it('anonymous SSE: 401 UNAUTHENTICATED, not a masked 500', async () => {
    const response = await fetch(`${api.app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: 'subscription { liveCalls { type callSid } }' }),
    });
    const text = await response.text();
    expect(response.status).toBe(401);
    expect(text).toContain('UNAUTHENTICATED');
    expect(text).not.toContain('INTERNAL_SERVER_ERROR');
  });
});
