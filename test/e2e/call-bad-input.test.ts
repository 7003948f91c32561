import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CounterName } from '../../src/core/metrics.ts';
import { Call } from '../../src/entities/call.entity.ts';
import { silence } from '../../src/sandbox/mulaw.ts';
import { connectCaller, eventually, placeCall, startCallHarness, type CallHarness } from '../support/calls.ts';

describe('bad input on the media stream', () => {
  let harness: CallHarness;

  beforeAll(async () => {
    harness = await startCallHarness();
  });
  afterAll(async () => {
    await harness?.stop();
  });

  const counter = (name: CounterName) => harness.app.services.metrics.get(name);

  /** Runs `act` and returns how much each counter moved. */
  async function counted(names: CounterName[], act: () => Promise<void>): Promise<Record<string, number>> {
    const before = Object.fromEntries(names.map((name) => [name, counter(name)]));
    await act();
    return Object.fromEntries(names.map((name) => [name, counter(name) - (before[name] ?? 0)]));
  }

  it('ignores and counts junk, a second start and bad audio, and the call goes on', async () => {
    const { caller, callSid, session } = await placeCall(harness, 'CA00000000000000000000000000000401');
    caller.start();
    await session.waitForReceived('response.create');
    const moved = await counted(
      ['media_invalid_json_total', 'media_unknown_event_total', 'media_invalid_payload_total', 'media_duplicate_start_total'],
      async () => {
        caller.sendRaw('{"event": "media", "media": ');
        caller.sendRaw(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
        caller.sendRaw(JSON.stringify({ event: 'teleport', streamSid: caller.streamSid }));
        caller.sendRaw(JSON.stringify({ event: 'media', streamSid: caller.streamSid, media: { track: 'inbound', payload: 'not base64!' } }));
        caller.sendRaw(JSON.stringify({ event: 'media', streamSid: caller.streamSid, media: { track: 'inbound', payload: 42 } }));
        caller.start();
        // A valid frame after all that still reaches OpenAI.
        await caller.silence(20, { pace: 'instant' });
        await eventually(() => session.inputAudioMs, (ms) => ms === 20, 'the valid frame at OpenAI');
      },
    );
    expect(moved).toEqual({
      media_invalid_json_total: 2,
      media_unknown_event_total: 1,
      media_invalid_payload_total: 2,
      media_duplicate_start_total: 1,
    });
    // Only one session was ever opened for this call.
    expect(session.received.filter((event) => event.type === 'session.update')).toHaveLength(1);
    caller.stop();
    await caller.closed;
    await eventually(() => harness.app.services.orm.em.fork().findOneOrFail(Call, { callSid }), (row) => row.status === 'completed', 'the call row');
  });

  it('counts media that arrives before start and drops it', async () => {
    const { caller, session } = await placeCall(harness, 'CA00000000000000000000000000000402');
    const moved = await counted(['media_before_start_total'], async () => {
      await caller.silence(60, { pace: 'instant' });
      await eventually(() => counter('media_before_start_total'), Boolean, 'the early frames to be counted');
    });
    expect(moved).toEqual({ media_before_start_total: 3 });
    caller.start();
    await session.waitForReceived('response.create');
    expect(session.inputAudioMs).toBe(0);
    caller.stop();
    await caller.closed;
  });

  it('closes a stream whose token belongs to another call with 1008 and writes nothing', async () => {
    const first = await placeCall(harness, 'CA00000000000000000000000000000403');
    const second = await placeCall(harness, 'CA00000000000000000000000000000404');
    const connectionsBefore = harness.openai.connections;
    // The second call's stream presents the first call's token.
    const impostor = await connectCaller(harness, second.callSid, first.token);
    const moved = await counted(['media_bad_token_total'], async () => {
      impostor.start();
      expect(await impostor.closed).toEqual({ code: 1008, reason: 'invalid stream token' });
    });
    expect(moved).toEqual({ media_bad_token_total: 1 });
    // An unverified stream never gets an OpenAI session.
    expect(harness.openai.connections).toBe(connectionsBefore);
    const row = await harness.app.services.orm.em.fork().findOneOrFail(Call, { callSid: second.callSid });
    expect(row).toMatchObject({ status: 'in-progress', transcriptTurns: [], endedAt: null });

    for (const placed of [first, second]) await placed.caller.close();
  });

  it('closes a stream with a forged token with 1008', async () => {
    const { caller, session } = await placeCall(harness, 'CA00000000000000000000000000000405');
    const forged = await connectCaller(harness, caller.callSid, 'eyJjYWxsU2lkIjoiQ0EifQ.forged');
    forged.start();
    expect((await forged.closed).code).toBe(1008);
    await caller.close();
  });

  it('closes a stream that sends an oversized frame (1009), keeps the call\'s record and keeps serving', async () => {
    const { caller, callSid, session } = await placeCall(harness, 'CA00000000000000000000000000000406');
    caller.start();
    await session.waitForReceived('response.create');
    const moved = await counted(['media_oversized_frame_total'], async () => {
      caller.sendRaw(JSON.stringify({ event: 'media', media: { payload: silence(20_000).toString('base64') } }));
      expect((await caller.closed).code).toBe(1009);
    });
    expect(moved).toEqual({ media_oversized_frame_total: 1 });
    await session.closed;
    await eventually(() => harness.app.services.orm.em.fork().findOneOrFail(Call, { callSid }), (row) => row.status === 'completed', 'the call row');
    expect((await fetch(`${harness.app.url}/health`)).status).toBe(200);
  });
});
