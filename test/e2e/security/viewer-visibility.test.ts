import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeyRole } from '../../../src/core/auth.ts';
import { issueApiKey } from '../../../src/entities/api-key.repository.ts';
import { BusinessSettings } from '../../../src/entities/business-settings.entity.ts';
import { Call } from '../../../src/entities/call.entity.ts';
import { endedCall, eventually, placeCall, useCallHarness } from '../../support/calls.ts';
import { collect, graphql, graphqlWsClient } from '../../support/graphql.ts';

/**
 * Threat: a viewer key — handed to a wallboard or a reporting tool — reads what only the
 * people running the business should (security review F15): the webhook URLs, which are
 * often capability URLs (a Zapier catch hook accepts whatever is posted to it), and the
 * text of supervisors' whispers to the agent, with the key that sent them.
 * Defence: the webhook URLs are for admin keys only (FORBIDDEN for supervisors and viewers,
 * who have no use for them); a supervisor action reaches a viewer — live in `callEvents`
 * and stored in `Call.timeline` — without its whisper text and key id (null).
 */

const whisperText = 'תציע לה הנחה של 15%, היא לקוחה ותיקה';
const settingsQuery = '{ viewer { business { settings { agentInstructions inboundWebhookUrl outboundWebhookUrl } } } }';

describe('what a viewer key may read', () => {
  const h = useCallHarness();
  const keys = {} as Record<ApiKeyRole, string>;
  const clients: Client[] = [];

  beforeAll(async () => {
    for (const role of ['admin', 'supervisor', 'viewer'] as const) {
      keys[role] = (await issueApiKey(h.app.services.orm.em.fork(), { businessId: h.business.id, role, name: role })).key;
    }
    const em = h.app.services.orm.em.fork();
    const settings = await em.findOneOrFail(BusinessSettings, { business: h.business.id });
    settings.inboundWebhookUrl = 'https://hooks.zapier.com/hooks/catch/123456/abcdef/';
    settings.outboundWebhookUrl = 'https://crm.example.com/hooks/outbound?token=s3cr3t';
    await em.flush();
  });
  afterAll(() => Promise.all(clients.map((client) => client.dispose())));

  it.each(['viewer', 'supervisor'] as const)('a %s key gets FORBIDDEN for the webhook URLs and the rest of the settings', async (role) => {
    const response = await graphql(h.app.url, keys[role], settingsQuery);
    expect(response.data?.viewer.business.settings).toEqual({ agentInstructions: expect.any(String), inboundWebhookUrl: null, outboundWebhookUrl: null });
    expect(response.errors?.map((error) => [error.path?.at(-1), error.extensions?.code])).toEqual(
      expect.arrayContaining([
        ['inboundWebhookUrl', 'FORBIDDEN'],
        ['outboundWebhookUrl', 'FORBIDDEN'],
      ]),
    );
    expect(JSON.stringify(response)).not.toContain('zapier');
  });

  it('an admin key reads the webhook URLs', async () => {
    const response = await graphql(h.app.url, keys.admin, settingsQuery);
    expect(response.errors).toBeUndefined();
    expect(response.data?.viewer.business.settings).toMatchObject({ inboundWebhookUrl: 'https://hooks.zapier.com/hooks/catch/123456/abcdef/' });
  });

  it('a viewer sees that a supervisor whispered, live and in the stored timeline, but not the text nor the key; a supervisor sees both', async () => {
    const { caller, session, callSid } = await placeCall(h, 'CA00000000000000000000000000001801');
    session.script({ replies: [{ text: 'שלום' }] });
    caller.start();
    await session.waitForReceived('response.create');
    const call = await h.app.services.orm.em.fork().findOneOrFail(Call, { callSid });

    const watch = (role: ApiKeyRole) => {
      const client = graphqlWsClient(h.app.url, keys[role]);
      clients.push(client);
      return collect(client, 'subscription($id: ID!) { callEvents(callId: $id) { type data } }', { id: call.id });
    };
    const viewer = watch('viewer');
    const supervisor = watch('supervisor');
    // A subscription is live some time after it is sent: whisper until both have seen one.
    const actions = (stream: ReturnType<typeof watch>) => stream.results.map((result) => result.data?.callEvents).filter((event) => event?.type === 'supervisor.action');
    await eventually(
      async () => {
        const whisper = await graphql(h.app.url, keys.supervisor, 'mutation($id: ID!, $text: String!) { whisperToAgent(callId: $id, text: $text) { ... on SupervisorActionResult { acted } } }', { id: call.id, text: whisperText });
        expect(whisper.data?.whisperToAgent).toEqual({ acted: true });
        return [actions(viewer).length, actions(supervisor).length];
      },
      ([seenByViewer, seenBySupervisor]) => seenByViewer! > 0 && seenBySupervisor! > 0,
      'the whisper on both subscriptions',
    );

    expect(actions(supervisor)[0]?.data).toMatchObject({ action: 'whisper', detail: whisperText, apiKeyId: expect.any(String), acted: true });
    expect(actions(viewer)[0]?.data).toMatchObject({ action: 'whisper', detail: null, apiKeyId: null, acted: true });
    expect(JSON.stringify(viewer.results)).not.toContain(whisperText);
    viewer.stop();
    supervisor.stop();

    caller.stop();
    await caller.closed;
    await endedCall(h, callSid);
    const timeline = async (role: ApiKeyRole) =>
      ((await graphql(h.app.url, keys[role], 'query($id: ID!) { call(id: $id) { timeline } }', { id: call.id })).data?.call.timeline as { type: string }[]).filter((event) => event.type === 'supervisor.action');
    expect((await timeline('supervisor'))[0]).toMatchObject({ action: 'whisper', detail: whisperText, apiKeyId: expect.any(String) });
    const seenByViewer = await timeline('viewer');
    expect(seenByViewer[0]).toMatchObject({ action: 'whisper', detail: null, apiKeyId: null, acted: true });
    expect(JSON.stringify(seenByViewer)).not.toContain(whisperText);
  });
});
