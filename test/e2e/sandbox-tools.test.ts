import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureText, loadFixture } from '../../src/sandbox/fixtures.ts';
import { silence } from '../../src/sandbox/mulaw.ts';
import { startOpenAIRealtimeStandIn, type OpenAIRealtimeStandIn } from '../../src/sandbox/openai-realtime.server.ts';
import { appendAudio, realtimeClient, standInApiKey } from '../support/realtime-client.ts';

const bookAppointment = {
  type: 'function',
  name: 'book_appointment',
  description: 'Books an appointment at a free slot.',
  parameters: { type: 'object', properties: { start: { type: 'string' } }, required: ['start'] },
};

const TOOL_CALL_EVENTS = [
  'response.created',
  'response.output_item.added',
  'conversation.item.added',
  'response.function_call_arguments.delta',
  'response.function_call_arguments.delta',
  'response.function_call_arguments.done',
  'response.output_item.done',
  'conversation.item.done',
  'response.done',
];

describe('OpenAI Realtime stand-in: function calling', () => {
  let standIn: OpenAIRealtimeStandIn;
  beforeAll(async () => {
    standIn = await startOpenAIRealtimeStandIn({ apiKey: standInApiKey, pace: 'instant' });
  });
  afterAll(() => standIn.close());

  it('streams a scripted tool call as the GA API does: one function_call item, its arguments, no audio', async () => {
    const client = await realtimeClient(standIn);
    const args = { start: '2026-11-23T10:00', note: 'מטבח חדש' };
    client.session.script({ replies: [{ toolCall: { name: 'book_appointment', arguments: args, callId: 'call_Booking123' } }] });
    client.send({ type: 'response.create' });
    const done = await client.next('response.done');

    expect(client.types(1)).toEqual(TOOL_CALL_EVENTS);
    const created = client.ofType('response.created')[0];
    const added = client.ofType('response.output_item.added')[0];
    const itemId = added?.item.id;
    expect(itemId).toMatch(/^item_/);
    expect(added).toMatchObject({ response_id: done.response.id, output_index: 0 });
    expect(added?.item).toEqual({ id: itemId, object: 'realtime.item', type: 'function_call', status: 'in_progress', name: 'book_appointment', call_id: 'call_Booking123', arguments: '' });
    expect(created?.response).toMatchObject({ id: done.response.id, status: 'in_progress', output: [] });

    const deltas = client.ofType('response.function_call_arguments.delta');
    expect(deltas.map((delta) => delta.delta).join('')).toBe(JSON.stringify(args));
    for (const delta of deltas) expect(delta).toMatchObject({ response_id: done.response.id, item_id: itemId, output_index: 0, call_id: 'call_Booking123' });
    expect(client.ofType('response.function_call_arguments.done')[0]).toMatchObject({
      response_id: done.response.id,
      item_id: itemId,
      output_index: 0,
      call_id: 'call_Booking123',
      name: 'book_appointment',
      arguments: JSON.stringify(args),
    });

    const completed = { id: itemId, object: 'realtime.item', type: 'function_call', status: 'completed', name: 'book_appointment', call_id: 'call_Booking123', arguments: JSON.stringify(args) };
    expect(client.ofType('response.output_item.done')[0]?.item).toEqual(completed);
    expect(client.ofType('conversation.item.done')[0]?.item).toEqual(completed);
    expect(done.response).toMatchObject({ status: 'completed', output: [completed] });
    expect(client.types().some((type) => type.startsWith('response.output_audio') || type.startsWith('response.content_part'))).toBe(false);
    await client.close();
  });

  it('sends string arguments as they are, invalid JSON included, under a fresh call_ id', async () => {
    const client = await realtimeClient(standIn);
    client.session.script({ replies: [{ toolCall: { name: 'book_appointment', arguments: '{"start":' } }] });
    client.send({ type: 'response.create' });
    const done = await client.next('response.done');
    const call = client.ofType('response.function_call_arguments.done')[0];
    expect(call?.arguments).toBe('{"start":');
    expect(call?.call_id).toMatch(/^call_[A-Za-z0-9]{16}$/);
    expect(done.response.output?.[0]).toMatchObject({ type: 'function_call', call_id: call?.call_id, arguments: '{"start":' });
    await client.close();
  });

  it('records the function_call_output and plays the next scripted reply only on the next response.create', async () => {
    const client = await realtimeClient(standIn);
    const session = client.session;
    session.script({ replies: [{ toolCall: { name: 'book_appointment', arguments: { start: '2026-11-23T10:00' }, callId: 'call_Booking123' } }, { text: 'קבעתי לך תור ליום שני בעשר' }] });
    client.send({ type: 'response.create' });
    await client.next('response.done');

    const before = client.events.items.length;
    client.send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: 'call_Booking123', output: '{"ok":true}' } });
    const output = await session.waitForToolOutput('call_Booking123');
    expect(output).toEqual({ callId: 'call_Booking123', output: '{"ok":true}' });
    expect(session.toolOutputs).toEqual([output]);
    const itemDone = await client.next('conversation.item.done', before);
    expect(itemDone.item).toMatchObject({ type: 'function_call_output', call_id: 'call_Booking123', output: '{"ok":true}', status: 'completed' });
    expect(itemDone.previous_item_id).toBe(client.ofType('response.output_item.done')[0]?.item.id);
    expect(client.types(before)).toEqual(['conversation.item.added', 'conversation.item.done']);

    // Nothing follows the output until the client asks for a response. Proves an absence: no event to wait for, only time.
    await sleep(100);
    expect(client.ofType('response.created')).toHaveLength(1);

    const beforeReply = client.events.items.length;
    client.send({ type: 'response.create', response: { instructions: 'Confirm the booking to the caller.' } });
    const reply = await client.next('response.output_audio_transcript.done', beforeReply);
    expect(reply.transcript).toBe('קבעתי לך תור ליום שני בעשר');
    expect((await client.next('response.done', beforeReply)).response).toMatchObject({ status: 'completed', output: [{ type: 'message', role: 'assistant' }] });
    expect(session.responseRequests).toEqual([{ instructions: null }, { instructions: 'Confirm the booking to the caller.' }]);
    await client.close();
  });

  it('refuses an output whose call_id answers no function call in the conversation', async () => {
    const client = await realtimeClient(standIn);
    client.send({ type: 'conversation.item.create', event_id: 'evt_output', item: { type: 'function_call_output', call_id: 'call_Unknown', output: 'done' } });
    expect((await client.next('error')).error).toEqual({
      type: 'invalid_request_error',
      code: 'invalid_value',
      message: "Tool call ID 'call_Unknown' not found in conversation.",
      param: 'item.call_id',
      event_id: 'evt_output',
    });
    client.send({ type: 'conversation.item.create', item: { type: 'function_call_output', output: 'done' } });
    await client.events.waitFor(() => client.ofType('error').length === 2);
    expect(client.ofType('error')[1]?.error).toMatchObject({ code: 'missing_required_parameter', param: 'item.call_id' });
    expect(client.session.toolOutputs).toEqual([]);
    expect(client.ofType('conversation.item.added')).toEqual([]);

    // A function call the client put in the conversation itself can be answered too.
    client.send({ type: 'conversation.item.create', item: { type: 'function_call', call_id: 'call_ByClient', name: 'book_appointment', arguments: '{}' } });
    client.send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: 'call_ByClient', output: 'done' } });
    expect(await client.session.waitForToolOutput()).toEqual({ callId: 'call_ByClient', output: 'done' });
    expect(client.ofType('error')).toHaveLength(2);
    await client.close();
  });

  it('lets a caller turn trigger a scripted tool call, and does not answer the tool call by itself', async () => {
    const client = await realtimeClient(standIn);
    const session = client.session;
    session.script({ callerTranscripts: [fixtureText('caller-booking')], replies: [{ toolCall: { name: 'book_appointment', arguments: { start: '2026-11-23T10:00' } } }] });
    client.send({ type: 'session.update', session: { type: 'realtime', tools: [bookAppointment], audio: { input: { format: { type: 'audio/pcmu' }, transcription: { model: 'gpt-4o-transcribe' } } } } });
    const updated = await client.next('session.updated');
    expect(updated.session.audio?.input?.turn_detection).toMatchObject({ type: 'server_vad', create_response: true });

    appendAudio(client, Buffer.concat([silence(200), loadFixture('caller-booking'), silence(700)]));
    const committed = await client.next('input_audio_buffer.committed');
    const call = await client.next('response.function_call_arguments.done');
    const done = await client.next('response.done');
    expect(done.response).toMatchObject({ status: 'completed', output: [{ type: 'function_call', call_id: call.call_id, name: 'book_appointment' }] });
    expect(client.ofType('conversation.item.added').find((event) => event.item.type === 'function_call')?.previous_item_id).toBe(committed.item_id);

    client.send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: call.call_id, output: '{"ok":true}' } });
    await session.waitForToolOutput(call.call_id);
    // Proves an absence: no response follows the output by itself, so nothing to wait for but time.
    await sleep(150);
    expect(client.ofType('response.created')).toHaveLength(1);
    expect(session.responseRequests).toEqual([]); // VAD's own response is not a client request
    await client.close();
  });

  it('merges tools and tool_choice from session.update into the session', async () => {
    const client = await realtimeClient(standIn);
    expect(client.session.config).toMatchObject({ tools: [], tool_choice: 'auto' });
    client.send({ type: 'session.update', session: { type: 'realtime', tools: [bookAppointment], tool_choice: 'required' } });
    expect((await client.next('session.updated')).session).toMatchObject({ tools: [bookAppointment], tool_choice: 'required' });
    expect(client.session.config.tools).toEqual([bookAppointment]);

    const before = client.events.items.length;
    client.send({ type: 'session.update', session: { type: 'realtime', tool_choice: { type: 'function', name: 'book_appointment' } } });
    await client.next('session.updated', before);
    expect(client.session.config).toMatchObject({ tools: [bookAppointment], tool_choice: { type: 'function', name: 'book_appointment' } });
    await client.close();
  });

  it('injects a well-formed error event and keeps the socket open', async () => {
    const client = await realtimeClient(standIn);
    const sent = client.session.sendError({ code: 'rate_limit_exceeded', message: 'Rate limit reached.' });
    const received = await client.next('error');
    expect(received).toEqual(sent);
    expect(received).toEqual({
      type: 'error',
      event_id: expect.stringMatching(/^event_/),
      error: { type: 'server_error', code: 'rate_limit_exceeded', message: 'Rate limit reached.', param: null, event_id: null },
    });
    client.session.sendError({ type: 'invalid_request_error', message: 'Something else.' });
    await client.events.waitFor(() => client.ofType('error').length === 2);
    expect(client.ofType('error')[1]?.error).toMatchObject({ type: 'invalid_request_error', code: null });
    expect(client.socket.readyState).toBe(WebSocket.OPEN);
    await client.close();
  });
});

describe('OpenAI Realtime stand-in: function calling at playback pace', () => {
  it('closes a cancelled tool call with the arguments sent so far, and refuses a second response meanwhile', async () => {
    const standIn = await startOpenAIRealtimeStandIn({ pace: 'realtime' });
    try {
      const client = await realtimeClient(standIn);
      const args = JSON.stringify({ start: '2026-11-23T10:00' });
      client.session.script({ replies: [{ toolCall: { name: 'book_appointment', arguments: args, callId: 'call_Cancelled1' } }] });
      client.send({ type: 'response.create', response: { instructions: 'Book it.' } });
      const first = await client.next('response.function_call_arguments.delta');
      client.send({ type: 'response.create', response: { instructions: 'Too soon.' } });
      client.send({ type: 'response.cancel' });
      expect((await client.next('error')).error.code).toBe('conversation_already_has_active_response');

      const done = await client.next('response.done');
      expect(done.response).toMatchObject({ status: 'cancelled', status_details: { type: 'cancelled', reason: 'client_cancelled' } });
      expect(client.ofType('response.function_call_arguments.delta')).toHaveLength(1);
      expect(client.ofType('response.function_call_arguments.done')[0]).toMatchObject({ call_id: 'call_Cancelled1', arguments: first.delta });
      expect(client.ofType('response.output_item.done')[0]?.item).toMatchObject({ type: 'function_call', status: 'incomplete', arguments: first.delta });
      expect(first.delta.length).toBeLessThan(args.length);
      expect(client.session.responseRequests).toEqual([{ instructions: 'Book it.' }]);
      await client.close();
    } finally {
      await standIn.close();
    }
  });
});
