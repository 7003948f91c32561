import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasControlCharacters } from '../../../src/core/control-characters.ts';
import { Call } from '../../../src/entities/call.entity.ts';
import { Lead } from '../../../src/entities/lead.entity.ts';
import { loadFixture } from '../../../src/sandbox/fixtures.ts';
import { graphql, useApiTenant } from '../../support/graphql.ts';
import { eventually, placeCall, useCallHarness } from '../../support/calls.ts';
import { startPipelineHarness, type PipelineHarness } from '../../support/pipeline.ts';

/**
 * Threat: a NUL (or another control character) in text makes Postgres fail the statement
 * (`invalid byte sequence 0x00`): a 500 with a stack in the log for GraphQL input, a call
 * whose end cannot be written when it comes from OpenAI (security review F13).
 * Defence: every string argument of the API, however deep (input fields, ids, cursors,
 * search, JSON), is a ValidationError naming the field when it holds C0 (except tab, line
 * feed, carriage return), DEL, C1 or a lone surrogate; transcripts and the agent's tool
 * arguments have them stripped before they are stored.
 */

const validationError = '__typename ... on ValidationError { fieldErrors { path message } }';
const refused = 'must not contain control characters (such as NUL)';

describe('control characters in GraphQL input', () => {
  const t = useApiTenant();

  it.each([
    ['NUL', 'a\u0000b'],
    ['ESC', 'a\u001b[31mb'],
    ['DEL', 'a\u007fb'],
    ['C1 (CSI)', 'a\u009bb'],
    ['a lone surrogate', 'a\ud800b'],
  ])('refuses %s in createLead, naming the field, and stores nothing', async (_name, fullName) => {
    const { data, errors } = await graphql(t.app.url, t.tenant.keys.admin, `mutation ($input: CreateLeadInput!) { createLead(input: $input) { ${validationError} } }`, {
      input: { phone: '0521112233', fullName },
    });
    expect(errors).toBeUndefined();
    expect(data!.createLead).toEqual({ __typename: 'ValidationError', fieldErrors: [{ path: ['input', 'fullName'], message: refused }] });
    expect(await t.app.services.orm.em.fork().count(Lead, { phone: '+972521112233' })).toBe(0);
  });

  it('refuses it in a literal of the document too, and in agentInstructions', async () => {
    const literal = await graphql(t.app.url, t.tenant.keys.admin, `mutation { createLead(input: { phone: "0521112233", notes: "x\\u0000" }) { ${validationError} } }`);
    expect(literal.data!.createLead.fieldErrors).toEqual([{ path: ['input', 'notes'], message: refused }]);
    const settings = await graphql(t.app.url, t.tenant.keys.admin, `mutation ($input: UpdateBusinessSettingsInput!) { updateBusinessSettings(input: $input) { ${validationError} } }`, {
      input: { agentInstructions: 'Be kind.\u0000' },
    });
    expect(settings.errors).toBeUndefined();
    expect(settings.data!.updateBusinessSettings.fieldErrors).toEqual([{ path: ['input', 'agentInstructions'], message: refused }]);
  });

  it('keeps tabs and line breaks', async () => {
    const { data } = await graphql(t.app.url, t.tenant.keys.admin, 'mutation ($input: CreateLeadInput!) { createLead(input: $input) { __typename ... on Lead { notes } } }', {
      input: { phone: '0523334455', notes: 'line one\r\n\tline two' },
    });
    expect(data!.createLead).toEqual({ __typename: 'Lead', notes: 'line one\r\n\tline two' });
  });

  it('refuses it in arguments without a validator of their own: search, cursors, ids, SIDs and JSON', async () => {
    const cases: [string, Record<string, unknown>, string[]][] = [
      ['query ($v: String) { calls(filter: { search: $v }) { totalCount } }', { v: 'a\u0000' }, ['filter', 'search']],
      ['query ($v: String) { leads(after: $v) { totalCount } }', { v: '\u0000' }, ['after']],
      ['query ($v: ID!) { lead(id: $v) { id } }', { v: '\u0000' }, ['id']],
      ['query ($v: String!) { callBySid(callSid: $v) { id } }', { v: 'CA\u0000' }, ['callSid']],
    ];
    for (const [query, variables, path] of cases) {
      const { errors } = await graphql(t.app.url, t.tenant.keys.admin, query, variables);
      expect(errors, query).toHaveLength(1);
      expect(errors![0]!.extensions).toMatchObject({ code: 'VALIDATION_FAILED', fieldErrors: [{ path, message: refused }] });
    }
    const json = await graphql(t.app.url, t.tenant.keys.admin, `mutation ($input: UpdateBusinessSettingsInput!) { updateBusinessSettings(input: $input) { ${validationError} } }`, {
      input: { workingHours: { sun: [{ from: '09:00', to: '17:00', note: '\u0000' }] } },
    });
    expect(json.data!.updateBusinessSettings.fieldErrors).toEqual([{ path: ['input', 'workingHours', 'sun', '0', 'note'], message: refused }]);
  });
});

describe('control characters from OpenAI during a call', () => {
  const h = useCallHarness();

  it('are stripped from the live transcript and the tool arguments before the call is stored', async () => {
    const placed = await placeCall(h, `CA${'c'.repeat(32)}`);
    placed.session.script({
      callerTranscripts: ['my name is Sarah\u0000 and I need a kitchen\u0007'],
      replies: [
        { text: 'hello' },
        { toolCall: { name: 'save_lead_details', arguments: { notes: 'prefers\u0000 mornings\u009b' } } },
        { text: 'saved\u0000 it\u001b' },
      ],
    });
    placed.caller.start();
    await eventually(() => placed.caller.heardMs(), (ms) => ms > 0, 'the greeting to play');
    await placed.caller.play(loadFixture('caller-booking'), { pace: 'instant' });
    await placed.caller.silence(800, { pace: 'instant' });
    await placed.session.waitForToolOutput();
    // Some of the reply after the tool's output plays (an agent turn is stored as far as it was heard).
    const heardAtToolOutput = placed.caller.heardMs();
    await eventually(() => placed.caller.heardMs(), (ms) => ms > heardAtToolOutput + 100, 'the reply to play');
    placed.caller.stop();
    await placed.caller.closed;

    const row = await eventually(() => h.app.services.orm.em.fork().findOneOrFail(Call, { callSid: placed.callSid }), (call) => call.endedAt != null, 'the call row');
    expect(row.status).toBe('completed');
    const texts = row.transcriptTurns.map((turn) => turn.text);
    expect(texts).toContain('my name is Sarah and I need a kitchen');
    expect(texts.some((text) => text.startsWith('saved')), JSON.stringify(texts)).toBe(true);
    expect(texts.some(hasControlCharacters)).toBe(false);
    const called = row.timeline.find((event) => event.type === 'tool.called');
    expect(called).toBeDefined();
    const lead = await h.app.services.orm.em.fork().findOneOrFail(Lead, { id: h.sarah.id });
    expect(lead.notes).toBe('prefers mornings');
  });
});

describe('control characters from OpenAI after the call', () => {
  let h: PipelineHarness;
  beforeAll(async () => {
    h = await startPipelineHarness();
    h.openai.handle({
      transcribe: () => 'a leak\u0000 in the kitchen\u0085',
      respond: (request) =>
        request.format.type === 'json_schema' ? { city: null, service_category: 'plumbing\u0000', fields: { budget_nis: null, urgent: null } } : 'A leak\u0000, urgent\u001b.',
    });
  });
  afterAll(() => h?.stop());

  it('are stripped from the transcript, the summary and the extraction before they are stored and sent', async () => {
    const { call, recordingSid } = await h.recordedCall();
    expect(await h.recordingCallback(call, recordingSid)).toBe(204);
    const delivery = await h.receiver.waitForDelivery((d) => d.payload?.call_id === call.callSid);
    expect(delivery.payload).toMatchObject({ transcript: 'Caller: a leak in the kitchen', summary: 'A leak, urgent.', service_category: 'plumbing' });
    const stored = await h.app.services.orm.em.fork().findOneOrFail(Call, { id: call.id });
    expect(stored).toMatchObject({ finalTranscript: 'Caller: a leak in the kitchen', summary: 'A leak, urgent.', extractedService: 'plumbing', pipelineStatus: 'completed' });
  });
});
