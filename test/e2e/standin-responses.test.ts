import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureText, loadFixture } from '../../src/sandbox/fixtures.ts';
import { bytesToDuration, silence } from '../../src/sandbox/mulaw.ts';
import { startOpenAIRealtimeStandIn, type OpenAIRealtimeStandIn, type OpenAIRealtimeStandInOptions } from '../../src/sandbox/openai-realtime.server.ts';
import { appendAudio, realtimeClient, standInApiKey } from '../support/realtime-client.ts';

const bookAt = (start: string, callId: string) => ({ toolCall: { name: 'book_appointment', arguments: { start }, callId } });

/** Runs `body` against a stand-in of its own, closed afterwards. */
async function withStandIn(options: OpenAIRealtimeStandInOptions, body: (standIn: OpenAIRealtimeStandIn) => Promise<void>): Promise<void> {
  const standIn = await startOpenAIRealtimeStandIn({ apiKey: standInApiKey, ...options });
  try {
    await body(standIn);
  } finally {
    await standIn.close();
  }
}

describe('OpenAI Realtime stand-in responses', () => {
  let standIn: OpenAIRealtimeStandIn;
  beforeAll(async () => {
    standIn = await startOpenAIRealtimeStandIn({ apiKey: standInApiKey, pace: 'instant' });
  });
  afterAll(() => standIn.close());

  it('sends response.done after a gap in which the response is still active: a response.create then is refused', async () => {
    const client = await realtimeClient(standIn);
    client.session.script({ replies: [bookAt('2026-11-23T10:00', 'call_Gap1'), { text: 'קבעתי' }] });
    client.session.delayResponseDone(300);
    client.send({ type: 'response.create' });
    await client.next('conversation.item.done');
    const beforeSecond = client.events.items.length;
    client.send({ type: 'response.create', event_id: 'evt_too_soon' });
    const refused = await client.next('error', beforeSecond);
    expect(refused.error).toMatchObject({ code: 'conversation_already_has_active_response', event_id: 'evt_too_soon' });
    const done = await client.next('response.done');
    expect(done.response).toMatchObject({ status: 'completed', output: [{ type: 'function_call', call_id: 'call_Gap1', status: 'completed' }] });
    // The item's done events came first; the refusal came while response.done was still to come.
    const types = client.types();
    expect(types.indexOf('response.function_call_arguments.done')).toBeLessThan(types.indexOf('error'));
    expect(types.indexOf('error')).toBeLessThan(types.indexOf('response.done'));
    expect(client.session.responseRequests).toHaveLength(1);
    await client.close();
  });

  it('reports a response cancelled in the gap before response.done as cancelled, its item completed', async () => {
    const client = await realtimeClient(standIn);
    client.session.script({ replies: [bookAt('2026-11-23T10:00', 'call_Gap2')] });
    client.session.delayResponseDone(300);
    client.send({ type: 'response.create' });
    await client.next('response.function_call_arguments.done');
    client.send({ type: 'response.cancel' });
    const done = await client.next('response.done');
    expect(done.response).toMatchObject({ status: 'cancelled', status_details: { type: 'cancelled', reason: 'client_cancelled' }, output: [{ call_id: 'call_Gap2', status: 'completed' }] });
    expect(client.ofType('error')).toEqual([]);
    await client.close();
  });

  it('delayFirstAudio: the response is active but says nothing until the delay ends; a cancel meanwhile ends it cancelled with no item', async () => {
    const client = await realtimeClient(standIn);
    client.session.script({ replies: [{ text: 'שלום' }, { text: 'להתראות' }] });
    client.session.delayFirstAudio(60_000);
    client.send({ type: 'response.create' });
    await client.next('response.created');
    const beforeSecond = client.events.items.length;
    client.send({ type: 'response.create', event_id: 'evt_waiting' });
    expect((await client.next('error', beforeSecond)).error).toMatchObject({ code: 'conversation_already_has_active_response' });
    client.send({ type: 'response.cancel' });
    const done = await client.next('response.done');
    expect(done.response).toMatchObject({ status: 'cancelled', output: [] });
    expect(client.ofType('response.output_audio.delta')).toEqual([]);
    // With the delay back to nothing, the next response speaks as usual.
    client.session.delayFirstAudio(0);
    client.send({ type: 'response.create' });
    await client.next('response.output_audio.delta');
    await client.close();
  });

  it('raceNextResponseCreate: server VAD has started a response when the client asks for one, which is refused', async () => {
    const client = await realtimeClient(standIn);
    client.session.script({ replies: [{ text: 'כן, אני כאן' }, { text: 'שוב שלום' }] });
    client.session.raceNextResponseCreate();
    client.send({ type: 'response.create', event_id: 'evt_raced', response: { instructions: 'Say hello.' } });
    expect((await client.next('error')).error).toMatchObject({ code: 'conversation_already_has_active_response', event_id: 'evt_raced' });
    const first = await client.next('response.done');
    expect(client.ofType('response.output_audio_transcript.done')[0]?.transcript).toBe('כן, אני כאן');
    expect(client.types().indexOf('response.created')).toBeLessThan(client.types().indexOf('error'));
    expect(client.session.responseRequests).toEqual([]);

    // Only the next one races: the one after starts the client's response as usual.
    const before = client.events.items.length;
    client.send({ type: 'response.create' });
    const second = await client.next('response.done', before);
    expect(second.response.id).not.toBe(first.response.id);
    expect(client.ofType('response.output_audio_transcript.done')[1]?.transcript).toBe('שוב שלום');
    expect(client.session.responseRequests).toEqual([{ instructions: null }]);
    await client.close();
  });

  it('autoRespondToNextToolOutput: the server answers a function_call_output itself, and the client\'s response.create is refused', async () => {
    const client = await realtimeClient(standIn);
    client.session.script({ replies: [bookAt('2026-11-23T10:00', 'call_Auto1'), { text: 'קבעתי לך תור' }] });
    client.send({ type: 'response.create' });
    await client.next('response.done');
    client.session.autoRespondToNextToolOutput();
    const before = client.events.items.length;
    client.send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: 'call_Auto1', output: '{"ok":true}' } });
    client.send({ type: 'response.create', event_id: 'evt_continue' });
    expect((await client.next('error', before)).error).toMatchObject({ code: 'conversation_already_has_active_response', event_id: 'evt_continue' });
    await client.next('response.done', before);
    expect(client.ofType('response.output_audio_transcript.done').at(-1)?.transcript).toBe('קבעתי לך תור');
    expect(client.types(before).slice(0, 3)).toEqual(['conversation.item.added', 'conversation.item.done', 'response.created']);
    expect(client.session.responseRequests).toHaveLength(1);
    await client.close();
  });

  it('fails a scripted response as a rate limit: rate_limits.updated, then response.done failed with no output', async () => {
    const client = await realtimeClient(standIn);
    client.session.script({ replies: [{ fail: {} }] });
    client.send({ type: 'response.create' });
    const done = await client.next('response.done');
    expect(client.types(1)).toEqual(['response.created', 'rate_limits.updated', 'response.done']);
    expect(done.response).toMatchObject({
      status: 'failed',
      output: [],
      status_details: { type: 'failed', error: { type: 'tokens', code: 'rate_limit_exceeded', message: expect.stringContaining('Please try again in 1.2s.') } },
      usage: { total_tokens: 0 },
    });
    expect(client.ofType('rate_limits.updated')[0]?.rate_limits).toContainEqual({ name: 'tokens', limit: 40_000, remaining: 0, reset_seconds: 1.2 });
    await client.close();
  });

  it('failNextResponse fails whatever comes next and keeps the scripted reply for the response after it', async () => {
    const client = await realtimeClient(standIn);
    client.session.script({ replies: [{ text: 'שלום לך' }] });
    client.session.failNextResponse({ type: 'server_error', code: 'server_error' });
    client.send({ type: 'response.create' });
    const failed = await client.next('response.done');
    expect(failed.response.status_details).toEqual({ type: 'failed', error: { type: 'server_error', code: 'server_error', message: expect.stringContaining('retry your request') } });
    expect(client.ofType('rate_limits.updated')).toEqual([]);

    const before = client.events.items.length;
    client.send({ type: 'response.create' });
    const spoken = await client.next('response.done', before);
    expect(spoken.response.status).toBe('completed');
    expect(client.ofType('response.output_audio_transcript.done')[0]?.transcript).toBe('שלום לך');
    await client.close();
  });

  it('ends a response incomplete partway through its audio, with the reason', async () => {
    const client = await realtimeClient(standIn);
    const text = 'אחת שתיים שלוש ארבע חמש שש שבע שמונה';
    client.session.script({ replies: [{ text, incomplete: 'content_filter' }] });
    client.send({ type: 'response.create' });
    const done = await client.next('response.done');
    expect(done.response).toMatchObject({ status: 'incomplete', status_details: { type: 'incomplete', reason: 'content_filter' }, output: [{ type: 'message', status: 'incomplete' }] });
    const audio = Buffer.concat(client.ofType('response.output_audio.delta').map((event) => Buffer.from(event.delta, 'base64')));
    expect(bytesToDuration(audio.length)).toBeGreaterThan(0);
    expect(bytesToDuration(audio.length)).toBeLessThan(8 * 250);
    const transcript = client.ofType('response.output_audio_transcript.done')[0]?.transcript ?? '';
    expect(text.startsWith(transcript) && transcript.length < text.length).toBe(true);
    await client.close();
  });

  it('carries a spoken preamble and two parallel function calls in one response, each its own item', async () => {
    const client = await realtimeClient(standIn);
    client.session.script({ replies: [{ output: [{ text: 'רגע, אני בודק' }, bookAt('2026-11-23T10:00', 'call_First'), bookAt('2026-11-24T10:00', 'call_Second')] }] });
    client.send({ type: 'response.create' });
    const done = await client.next('response.done');
    const items = client.ofType('response.output_item.done').map((event) => event.item);
    expect(client.ofType('response.output_item.added').map((event) => [event.output_index, event.item.type])).toEqual([[0, 'message'], [1, 'function_call'], [2, 'function_call']]);
    expect(client.ofType('response.output_item.done').map((event) => event.output_index)).toEqual([0, 1, 2]);
    expect(done.response.output).toEqual(items);
    expect(items).toMatchObject([
      { type: 'message', status: 'completed', content: [{ type: 'output_audio', transcript: 'רגע, אני בודק' }] },
      { type: 'function_call', status: 'completed', call_id: 'call_First' },
      { type: 'function_call', status: 'completed', call_id: 'call_Second' },
    ]);
    // Each item opens after the one before it closed, and follows it in the conversation.
    const types = client.types();
    expect(types.indexOf('response.output_audio.done')).toBeLessThan(types.indexOf('response.function_call_arguments.delta'));
    const added = client.ofType('conversation.item.added');
    expect(added.map((event) => event.previous_item_id).slice(1)).toEqual([items[0]?.id, items[1]?.id]);
    expect(client.ofType('response.function_call_arguments.done').map((event) => [event.output_index, event.call_id])).toEqual([[1, 'call_First'], [2, 'call_Second']]);

    // Every call is in the conversation, and the preamble's audio can be truncated.
    client.send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: 'call_First', output: '{"ok":true}' } });
    client.send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: 'call_Second', output: '{"ok":false}' } });
    client.send({ type: 'conversation.item.truncate', item_id: items[0]?.id, content_index: 0, audio_end_ms: 200 });
    await client.next('conversation.item.truncated');
    await client.session.waitForToolOutput('call_Second');
    expect(client.session.toolOutputs.map((output) => output.callId)).toEqual(['call_First', 'call_Second']);
    expect(client.ofType('error')).toEqual([]);
    await client.close();
  });
});

describe('OpenAI Realtime stand-in responses at playback pace', () => {
  it('streams audio in bursts ahead of real time: three 100 ms deltas at once, a burst every 120 ms', async () => {
    await withStandIn({ pace: 'realtime' }, async (standIn) => {
      const client = await realtimeClient(standIn);
      client.send({ type: 'response.create' });
      const done = await client.next('response.done');
      expect(done.response.status).toBe('completed');
      const { sent } = client.session.times;
      const deltaTimes = client.session.sent.flatMap((event, index) => (event.type === 'response.output_audio.delta' ? [sent[index] ?? 0] : []));
      // Within a burst the deltas leave together; the next burst waits for the interval.
      expect((deltaTimes[2] ?? 0) - (deltaTimes[0] ?? 0)).toBeLessThan(20);
      expect((deltaTimes[3] ?? 0) - (deltaTimes[0] ?? 0)).toBeGreaterThanOrEqual(100);
      // 3.3 s of greeting arrives well before it would have played.
      const audioMs = bytesToDuration(loadFixture('agent-greeting').length);
      expect((deltaTimes.at(-1) ?? 0) - (deltaTimes[0] ?? 0)).toBeLessThan(audioMs * 0.6);
    });
  });

  it('lets two more audio deltas through after a barge-in cancels, after the speech_started that caused it', async () => {
    await withStandIn({ pace: 'realtime', audioBurst: { deltas: 3, intervalMs: 2_000 } }, async (standIn) => {
      const client = await realtimeClient(standIn);
      client.send({ type: 'response.create' });
      await client.events.waitFor(() => client.ofType('response.output_audio.delta').length === 3);
      appendAudio(client, loadFixture('caller-booking').subarray(0, 1_600));
      const done = await client.next('response.done');
      expect(done.response).toMatchObject({ status: 'cancelled', status_details: { reason: 'turn_detected' } });
      const types = client.types();
      const late = types.slice(types.indexOf('input_audio_buffer.speech_started')).filter((type) => type === 'response.output_audio.delta');
      expect(late).toHaveLength(2);
      expect(types.lastIndexOf('response.output_audio.delta')).toBeLessThan(types.indexOf('response.output_audio.done'));
      // The transcript keeps pace with the audio that was sent, late deltas included.
      expect(client.ofType('response.output_audio_transcript.done')[0]?.transcript.length).toBeGreaterThan(0);
      await client.close();
    });
  });

  it('sends as many late deltas after a client cancel as asked, then the cancelled done events', async () => {
    await withStandIn({ pace: 'realtime', audioBurst: { deltas: 3, intervalMs: 2_000 }, lateDeltasAfterCancel: 4 }, async (standIn) => {
      const client = await realtimeClient(standIn);
      client.send({ type: 'response.create' });
      await client.events.waitFor(() => client.ofType('response.output_audio.delta').length === 3);
      client.send({ type: 'response.cancel' });
      const done = await client.next('response.done');
      expect(done.response).toMatchObject({ status: 'cancelled', status_details: { reason: 'client_cancelled' }, output: [{ status: 'incomplete' }] });
      expect(client.ofType('response.output_audio.delta')).toHaveLength(3 + 4);
      await client.close();
    });
  });

  it('answers a turn that ends while its barge-in\'s cancelled response is still finishing, once that response is done', async () => {
    await withStandIn({ pace: 'realtime' }, async (standIn) => {
      const client = await realtimeClient(standIn);
      client.session.script({ callerTranscripts: [fixtureText('caller-booking')], replies: [{ text: fixtureText('agent-greeting'), audio: loadFixture('agent-greeting') }, { text: 'בשמחה' }] });
      client.session.delayResponseDone(200);
      client.send({ type: 'session.update', session: { type: 'realtime', audio: { input: { format: { type: 'audio/pcmu' } } } } });
      await client.next('session.updated');
      client.send({ type: 'response.create' });
      await client.next('response.output_audio.delta');
      appendAudio(client, Buffer.concat([loadFixture('caller-booking'), silence(700)]));
      await client.next('input_audio_buffer.speech_stopped');
      const cancelled = await client.next('response.done');
      expect(cancelled.response).toMatchObject({ status: 'cancelled', status_details: { reason: 'turn_detected' } });
      const after = client.events.items.indexOf(cancelled);
      await client.next('response.created', after);
      const answered = await client.next('response.done', after + 1);
      expect(answered.response).toMatchObject({ status: 'completed', output: [{ content: [{ transcript: 'בשמחה' }] }] });
      await client.close();
    });
  });

  it('auto-responds to every function_call_output when the stand-in is started so', async () => {
    await withStandIn({ pace: 'instant', autoRespondToToolOutput: true, responseDoneGapMs: 0 }, async (standIn) => {
      const client = await realtimeClient(standIn);
      client.session.script({ replies: [bookAt('2026-11-23T10:00', 'call_A'), bookAt('2026-11-23T11:00', 'call_B'), { text: 'סיימתי' }] });
      client.send({ type: 'response.create' });
      await client.next('response.function_call_arguments.done');
      await client.events.waitFor(() => client.ofType('response.done').length === 1);
      client.send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: 'call_A', output: 'ok' } });
      await client.events.waitFor(() => client.ofType('response.done').length === 2);
      client.send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: 'call_B', output: 'ok' } });
      await client.events.waitFor(() => client.ofType('response.done').length === 3);
      expect(client.ofType('response.output_audio_transcript.done')[0]?.transcript).toBe('סיימתי');
      expect(client.session.responseRequests).toHaveLength(1);
      await client.close();
    });
  });
});
