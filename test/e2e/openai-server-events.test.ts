import type { ConversationItem, RealtimeServerEvent } from 'openai/resources/realtime/realtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IsViewOf } from '../../src/core/type-view.ts';
import { fixtureText, loadFixture } from '../../src/sandbox/fixtures.ts';
import { silence } from '../../src/sandbox/mulaw.ts';
import { startOpenAIRealtimeStandIn, type OpenAIRealtimeStandIn } from '../../src/sandbox/openai-realtime.server.ts';
import { ignoredServerEventTypes, parseServerEvent, type ServerEventParse } from '../../src/realtime/session/openai-realtime.server-events.ts';
import { appendAudio, realtimeClient, standInApiKey } from '../support/realtime-client.ts';

type Sdk<K extends RealtimeServerEvent['type']> = Extract<RealtimeServerEvent, { type: K }>;

const parse = (event: unknown) => parseServerEvent(JSON.stringify(event));
const audio = Buffer.from([0xff, 0x7f, 0x00, 0x80]).toString('base64');
const part = { event_id: 'event_2', response_id: 'resp_1', item_id: 'item_1', output_index: 0, content_index: 0 };
const assistantItem = { id: 'item_1', object: 'realtime.item', type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_audio', transcript: 'שלום' }] } satisfies ConversationItem;
const callItem = { id: 'item_2', object: 'realtime.item', type: 'function_call', status: 'completed', name: 'save_lead_details', call_id: 'call_1', arguments: '{"city":"חיפה"}' } satisfies ConversationItem;

describe('OpenAI server events at the boundary', () => {
  it('parses each handled event to the fields the call path reads, with the SDK\'s names', () => {
    const done = parse({
      type: 'response.done',
      event_id: 'event_1',
      response: {
        object: 'realtime.response',
        id: 'resp_1',
        status: 'failed',
        status_details: { type: 'failed', error: { type: 'rate_limit_error', code: 'rate_limit_exceeded' } },
        output: [assistantItem, callItem],
        output_modalities: ['audio'],
        usage: { total_tokens: 10, input_tokens: 6, output_tokens: 4, output_token_details: { audio_tokens: 3, text_tokens: 1 } },
      },
    } satisfies Sdk<'response.done'>);
    expect(done).toEqual({
      kind: 'event',
      event: {
        type: 'response.done',
        response: {
          id: 'resp_1',
          status: 'failed',
          status_details: { type: 'failed', error: { type: 'rate_limit_error', code: 'rate_limit_exceeded' } },
          output: [
            { id: 'item_1', type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_audio', transcript: 'שלום' }] },
            { id: 'item_2', type: 'function_call', status: 'completed', name: 'save_lead_details', call_id: 'call_1', arguments: '{"city":"חיפה"}' },
          ],
          usage: { input_tokens: 6, output_tokens: 4, output_token_details: { audio_tokens: 3, text_tokens: 1 } },
        },
      },
    });
    const session = { type: 'realtime', model: 'gpt-realtime', audio: { input: { format: { type: 'audio/pcmu' } }, output: { format: { type: 'audio/pcmu' }, voice: 'marin' } } } as const;
    expect(parse({ type: 'session.updated', event_id: 'event_1', session } satisfies Sdk<'session.updated'>)).toEqual({
      kind: 'event',
      event: { type: 'session.updated', session: { audio: { input: { format: { type: 'audio/pcmu' } }, output: { format: { type: 'audio/pcmu' } } } } },
    });
    expect(parse({ type: 'error', event_id: 'event_1', error: { type: 'invalid_request_error', code: 'conversation_already_has_active_response', message: 'busy', param: null, event_id: null } } satisfies Sdk<'error'>)).toMatchObject({
      kind: 'event',
      event: { type: 'error', error: { type: 'invalid_request_error', code: 'conversation_already_has_active_response', message: 'busy' } },
    });

    const events = [
      { type: 'session.created', event_id: 'event_1', session },
      { type: 'response.created', event_id: 'event_1', response: { id: 'resp_1', status: 'in_progress', output: [] } },
      { type: 'response.output_item.added', event_id: 'event_1', response_id: 'resp_1', output_index: 0, item: { ...callItem, status: 'in_progress', arguments: '' } },
      { type: 'response.output_item.done', event_id: 'event_1', response_id: 'resp_1', output_index: 0, item: assistantItem },
      { type: 'response.output_audio.delta', ...part, delta: audio },
      { type: 'response.output_audio.done', ...part },
      { type: 'response.output_audio_transcript.delta', ...part, delta: 'שלו' },
      { type: 'response.output_audio_transcript.done', ...part, transcript: 'שלום' },
      { type: 'response.function_call_arguments.done', event_id: 'event_1', response_id: 'resp_1', item_id: 'item_2', output_index: 0, call_id: 'call_1', name: 'save_lead_details', arguments: '{}' },
      { type: 'input_audio_buffer.speech_started', event_id: 'event_1', item_id: 'item_3', audio_start_ms: 120 },
      { type: 'input_audio_buffer.speech_stopped', event_id: 'event_1', item_id: 'item_3', audio_end_ms: 2400 },
      { type: 'input_audio_buffer.committed', event_id: 'event_1', item_id: 'item_3', previous_item_id: null },
      { type: 'conversation.item.input_audio_transcription.delta', event_id: 'event_1', item_id: 'item_3', content_index: 0, delta: 'אני' },
      { type: 'conversation.item.input_audio_transcription.completed', event_id: 'event_1', item_id: 'item_3', content_index: 0, transcript: 'אני צריכה', usage: { type: 'duration', seconds: 2 } },
      { type: 'conversation.item.input_audio_transcription.failed', event_id: 'event_1', item_id: 'item_3', content_index: 0, error: { type: 'transcription_error', code: 'audio_unintelligible', message: 'no' } },
      { type: 'conversation.item.added', event_id: 'event_1', previous_item_id: 'item_2', item: { id: 'item_3', type: 'message', role: 'user', content: [{ type: 'input_audio' }] } },
      { type: 'conversation.item.done', event_id: 'event_1', item: { id: 'item_4', type: 'function_call_output', call_id: 'call_1', output: '{"ok":true}' } },
      { type: 'conversation.item.truncated', event_id: 'event_1', item_id: 'item_1', content_index: 0, audio_end_ms: 300 },
      { type: 'rate_limits.updated', event_id: 'event_1', rate_limits: [{ name: 'tokens', limit: 40_000, remaining: 0, reset_seconds: 2.5 }] },
    ] satisfies RealtimeServerEvent[];
    for (const event of events) {
      const parsed = parse(event);
      expect(parsed, event.type).toMatchObject({ kind: 'event', event: { type: event.type } });
      // Only what the call path reads is kept.
      if (parsed.kind === 'event' && event.type !== 'response.output_audio.delta') expect(parsed.event).not.toHaveProperty('event_id');
    }
  });

  it('rejects what is not an event, and a handled event whose fields are not the SDK\'s', () => {
    expect(parseServerEvent('{"type": "response.done",')).toEqual({ kind: 'invalid', problem: 'invalid-json' });
    expect(parse(null)).toEqual({ kind: 'invalid', problem: 'invalid-event' });
    expect(parse([])).toEqual({ kind: 'invalid', problem: 'invalid-event' });
    expect(parse({ type: 7 })).toEqual({ kind: 'invalid', problem: 'invalid-event' });
    const invalid = (type: string) => ({ kind: 'invalid', problem: 'invalid-event', type });
    expect(parse({ type: 'response.done', response: { id: 'resp_1', status: 'exploded', output: [] } })).toEqual(invalid('response.done'));
    expect(parse({ type: 'response.done', response: { status: 'completed', output: [] } })).toEqual(invalid('response.done'));
    expect(parse({ type: 'response.function_call_arguments.done', ...part, call_id: 'call_1', name: 'x', arguments: { city: 'חיפה' } })).toEqual(
      invalid('response.function_call_arguments.done'),
    );
    expect(parse({ type: 'error', error: { code: 'server_error' } })).toEqual(invalid('error'));
    expect(parse({ type: 'conversation.item.added', item: { id: 'item_9', type: 'mcp_call', name: 'x', server_label: 's', arguments: '' } })).toEqual(invalid('conversation.item.added'));
    // The audio delta's own check: base64 audio and every field of the SDK's event.
    expect(parse({ type: 'response.output_audio.delta', ...part, delta: 'not base64!' })).toEqual(invalid('response.output_audio.delta'));
    expect(parse({ type: 'response.output_audio.delta', ...part, delta: '' })).toEqual(invalid('response.output_audio.delta'));
    expect(parse({ type: 'response.output_audio.delta', ...part, item_id: undefined, delta: audio })).toEqual(invalid('response.output_audio.delta'));
    expect(parse({ type: 'response.output_audio.delta', ...part, response_id: 1, delta: audio })).toEqual(invalid('response.output_audio.delta'));
  });

  it('keeps a response.done whose cancel reason is newer than the SDK, reading the reason as absent', () => {
    const parsed = parse({ type: 'response.done', response: { id: 'resp_1', status: 'cancelled', status_details: { type: 'cancelled', reason: 'session_rolled_over' }, output: [] } });
    expect(parsed).toEqual({ kind: 'event', event: { type: 'response.done', response: { id: 'resp_1', status: 'cancelled', status_details: { type: 'cancelled' }, output: [] } } });
  });

  it('tells the types the call path deliberately ignores from those it does not know', () => {
    for (const type of ignoredServerEventTypes) expect(parse({ type })).toEqual({ kind: 'ignored', type });
    expect(parse({ type: 'response.content_part.added', event_id: 'event_1' })).toEqual({ kind: 'ignored', type: 'response.content_part.added' });
    expect(parse({ type: 'output_audio_buffer.started', response_id: 'resp_1' })).toEqual({ kind: 'unhandled', type: 'output_audio_buffer.started' });
    expect(parse({ type: 'response.reasoning.delta' })).toEqual({ kind: 'unhandled', type: 'response.reasoning.delta' });
    // Names of Object.prototype's members are types like any other, not schemas.
    expect(parse({ type: '__proto__' })).toEqual({ kind: 'unhandled', type: '__proto__' });
    expect(parse({ type: 'toString' })).toEqual({ kind: 'unhandled', type: 'toString' });
  });

  it('checks at compile time that a parsed shape reads the SDK\'s fields under their names and types', () => {
    // `tsc` (npm run typecheck) checks these annotations: each says what IsViewOf decides.
    const subset: IsViewOf<{ type: 'response.output_audio.done'; item_id: string }, Sdk<'response.output_audio.done'>> = true;
    const renamed: IsViewOf<{ type: 'response.output_audio.done'; itemId: string }, Sdk<'response.output_audio.done'>> = false;
    const retyped: IsViewOf<{ type: 'conversation.item.truncated'; audio_end_ms: string }, Sdk<'conversation.item.truncated'>> = false;
    const widened: IsViewOf<{ type: 'response.done'; response: { status: 'completed' | 'exploded' } }, Sdk<'response.done'>> = false;
    const nested: IsViewOf<{ type: 'response.done'; response: { status_details?: { error?: { kode?: string } } } }, Sdk<'response.done'>> = false;
    // A function call item has no `output`; a function call output has.
    const wrongItem: IsViewOf<{ type: 'function_call'; output: string }, ConversationItem> = false;
    const optional: IsViewOf<{ type: 'response.output_audio.done'; item_id?: string }, Sdk<'response.output_audio.done'>> = false;
    expect([subset, renamed, retyped, widened, nested, wrongItem, optional]).toEqual([true, false, false, false, false, false, false]);
  });
});

describe('OpenAI server events from the Realtime stand-in', () => {
  let standIn: OpenAIRealtimeStandIn;
  beforeAll(async () => {
    standIn = await startOpenAIRealtimeStandIn({ apiKey: standInApiKey, pace: 'instant' });
  });
  afterAll(() => standIn.close());

  it('are all handled or deliberately ignored, through speech, a tool call, a caller turn, a truncate and errors', async () => {
    const client = await realtimeClient(standIn);
    const { session } = client;
    session.script({
      replies: [{ text: 'שלום, במה אפשר לעזור?' }, { toolCall: { name: 'save_lead_details', arguments: { city: 'חיפה' } } }, { text: 'בשמחה' }],
      callerTranscripts: [fixtureText('caller-booking')],
    });
    client.send({
      type: 'session.update',
      session: { type: 'realtime', audio: { input: { format: { type: 'audio/pcmu' }, transcription: { model: 'gpt-4o-transcribe', language: 'he' } }, output: { format: { type: 'audio/pcmu' } } } },
    });
    await client.next('session.updated');
    client.send({ type: 'response.create' });
    const spoken = await client.next('response.done');
    client.send({ type: 'response.create' });
    await client.events.waitFor(() => client.ofType('response.done').length === 2);
    appendAudio(client, Buffer.concat([silence(200), loadFixture('caller-booking'), silence(700)]));
    await client.events.waitFor(() => client.ofType('response.done').length === 3);
    // The caller's transcript comes on its own clock, and may come after the reply (a CI run saw it).
    await client.events.waitFor(() => client.ofType('conversation.item.input_audio_transcription.completed').length === 1);
    client.send({ type: 'conversation.item.truncate', item_id: spoken.response.output?.[0]?.id, content_index: 0, audio_end_ms: 100 });
    await client.next('conversation.item.truncated');
    client.send({ type: 'input_audio_buffer.clear' });
    await client.next('input_audio_buffer.cleared');
    client.send({ type: 'response.launch' });
    session.sendError({ code: 'server_error', message: 'The server had an error while processing your request.' });
    session.send({ type: 'rate_limits.updated', event_id: 'event_rl', rate_limits: [{ name: 'requests', limit: 1000, remaining: 999, reset_seconds: 0.06 }] });
    session.send({ type: 'conversation.item.input_audio_transcription.failed', event_id: 'event_tf', item_id: 'item_x', content_index: 0, error: { type: 'transcription_error', code: 'audio_unintelligible', message: 'Audio unintelligible' } });
    await client.next('conversation.item.input_audio_transcription.failed');

    const outcomes = new Map<ServerEventParse['kind'], Set<string>>();
    for (const event of client.events.items) {
      const parsed = parseServerEvent(JSON.stringify(event));
      const type = parsed.kind === 'event' ? parsed.event.type : (parsed.type ?? '?');
      outcomes.set(parsed.kind, (outcomes.get(parsed.kind) ?? new Set()).add(type));
    }
    expect(outcomes.get('invalid')).toBeUndefined();
    expect(outcomes.get('unhandled')).toBeUndefined();
    expect([...(outcomes.get('ignored') ?? [])].sort()).toEqual(['input_audio_buffer.cleared', 'response.content_part.added', 'response.content_part.done', 'response.function_call_arguments.delta']);
    expect([...(outcomes.get('event') ?? [])].sort()).toEqual([
      'conversation.item.added',
      'conversation.item.done',
      'conversation.item.input_audio_transcription.completed',
      'conversation.item.input_audio_transcription.delta',
      'conversation.item.input_audio_transcription.failed',
      'conversation.item.truncated',
      'error',
      'input_audio_buffer.committed',
      'input_audio_buffer.speech_started',
      'input_audio_buffer.speech_stopped',
      'rate_limits.updated',
      'response.created',
      'response.done',
      'response.function_call_arguments.done',
      'response.output_audio.delta',
      'response.output_audio.done',
      'response.output_audio_transcript.delta',
      'response.output_audio_transcript.done',
      'response.output_item.added',
      'response.output_item.done',
      'session.created',
      'session.updated',
    ]);
    await client.close();
  });
});
