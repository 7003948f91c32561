import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeSlots } from '../../src/core/business-hours.ts';
import { defaultWorkingHours } from '../../src/entities/business-settings.entity.ts';
import { instantToLocal } from '../../src/realtime/agent/tools/availability.ts';
import { fixtureText, loadFixture } from '../../src/sandbox/fixtures.ts';
import { recordingCallbackParams } from '../../src/sandbox/twilio-webhook.ts';
import { silentWavFile } from '../../src/sandbox/wav.ts';
import { agentSettings, endedCall, eventually, placeCall, startCallHarness, type CallHarness } from '../support/calls.ts';
import { postTwilioWebhook, twilioAccountSid } from '../support/twilio.ts';

/**
 * The calls that matter most to a business are the ones where the caller books. End to
 * end through real sockets: Twilio's media stream ↔ Callwatch ↔ the OpenAI Realtime
 * stand-in (the agent calls `book_appointment`), Twilio's recording callback, the
 * post-call pipeline (OpenAI REST stand-in) and the business's CRM, which verifies the
 * Standard Webhooks signature.
 */
describe('a call where the caller books an appointment', () => {
  let h: CallHarness;

  beforeAll(async () => {
    h = await startCallHarness({ pipeline: true, recordCalls: true });
    await agentSettings(h);
  });
  afterAll(() => h?.stop());

  it('sends the CRM a verified call.completed carrying the appointment and its times (regression: the payload read startsAt from a column-keyed row, threw, and the webhook was retried forever)', async () => {
    const [slot] = freeSlots({ now: new Date(), days: 7, timeZone: 'Asia/Jerusalem', workingHours: defaultWorkingHours, slotMinutes: 30, booked: [] });
    const start = instantToLocal(slot!.start, 'Asia/Jerusalem');
    const call = await placeCall(h, 'CA00000000000000000000000000001501');
    call.session.script({
      callerTranscripts: [fixtureText('caller-booking')],
      replies: [{ text: 'שלום' }, { toolCall: { name: 'book_appointment', arguments: { start, notes: 'שיפוץ מטבח' } } }, { text: 'קבעתי לך תור' }],
    });
    call.caller.start();
    await eventually(() => call.caller.heardMs(), (ms) => ms >= 500, 'the greeting to play');
    await call.caller.play(loadFixture('caller-booking'), { pace: 'instant' });
    await call.caller.silence(800, { pace: 'instant' });

    const booking = JSON.parse((await call.session.waitForToolOutput()).output) as { booked: boolean; appointment_id: string };
    expect(booking).toMatchObject({ booked: true, appointment_id: expect.any(String) });
    await eventually(() => call.session.responseRequests.length, (n) => n === 2, 'the agent to confirm the booking');
    call.caller.stop();
    await call.caller.closed;
    const row = await endedCall(h, call.callSid);

    // Twilio finishes the recording it was asked to make and calls back (signed).
    const recording = h.twilioApi.recordings.find((candidate) => candidate.callSid === call.callSid);
    expect(recording).toBeDefined();
    const durationSec = Math.max(1, row.durationSec ?? 1);
    Object.assign(recording!, { status: 'completed', audio: silentWavFile(durationSec, { sampleRate: 8000, channels: 2 }), durationSec });
    const params = recordingCallbackParams({ accountSid: twilioAccountSid, callSid: call.callSid, recordingSid: recording!.sid, status: 'completed', durationSec, channels: 2 });
    expect((await postTwilioWebhook(h.app.url, '/twilio/recording', params)).status).toBe(204);

    const delivery = await h.pipeline!.receiver.waitForDelivery((d) => d.payload?.call_id === call.callSid, 15_000);
    expect(delivery).toMatchObject({ verified: true, verifyError: null, status: 200 });
    expect(delivery.payload).toMatchObject({
      event_type: 'call.completed',
      callwatch_call_id: row.id,
      appointment: { id: booking.appointment_id, starts_at: slot!.start.toISOString(), ends_at: slot!.end.toISOString(), status: 'booked' },
      errors: {},
    });
  });
});
