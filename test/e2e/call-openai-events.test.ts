import type { RealtimeServerEvent } from 'openai/resources/realtime/realtime';
import { describe, expect, it } from 'vitest';
import { fixtureText, loadFixture } from '../../src/sandbox/fixtures.ts';
import { endedCall, eventually, placeCall, useCallHarness } from '../support/calls.ts';

describe('OpenAI server events on a call', () => {
  const harness = useCallHarness();

  it('counts an event type it does not handle by type in /metrics, and an invalid event, and the call goes on', async () => {
    const { caller, session, callSid } = await placeCall(harness, 'CA00000000000000000000000000000601');
    caller.start();
    await session.waitForReceived('response.create');
    // A WebRTC-only event the call path has no use for, and a response.done with a status the SDK does not know.
    session.send({ type: 'output_audio_buffer.started', event_id: 'event_unhandled', response_id: 'resp_unhandled' });
    session.send({ type: 'response.done', event_id: 'event_invalid', response: { id: 'resp_invalid', status: 'exploded' } } as unknown as RealtimeServerEvent);

    const greeting = loadFixture('agent-greeting');
    await eventually(() => caller.receivedAudio().length, (bytes) => bytes >= greeting.length, 'the greeting audio');
    await session.waitForSent('response.done');
    const metrics = await eventually(
      async () => (await fetch(`${harness.app.url}/metrics`)).text(),
      (text) => text.includes('output_audio_buffer.started'),
      'the unhandled type in /metrics',
    );
    expect(metrics).toMatch(/^callwatch_openai_unhandled_event_total\{type="output_audio_buffer\.started"\} 1$/m);
    expect(metrics).toMatch(/^callwatch_openai_invalid_event_total 1$/m);
    // What every streamed response also carries (content parts), the call path knows and ignores: not counted.
    expect(metrics).not.toContain('response.content_part');

    caller.stop();
    await caller.closed;
    const row = await endedCall(harness, callSid);
    expect(row.status).toBe('completed');
    expect(row.transcriptTurns.map(({ speaker, text }) => ({ speaker, text }))).toEqual([{ speaker: 'agent', text: fixtureText('agent-greeting') }]);
  });
});
