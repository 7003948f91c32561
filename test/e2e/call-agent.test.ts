import { describe, expect, it } from 'vitest';
import { freeSlots } from '../../src/core/business-hours.ts';
import type { CallEvent } from '../../src/core/events.ts';
import { defaultWorkingHours } from '../../src/entities/business-settings.entity.ts';
import { Call } from '../../src/entities/call.entity.ts';
import { Lead } from '../../src/entities/lead.entity.ts';
import { sql } from '../../src/entities/sql.ts';
import { instantToLocal } from '../../src/realtime/agent/tools/availability.ts';
import { fixtureText, loadFixture } from '../../src/sandbox/fixtures.ts';
import type { SessionScript } from '../../src/sandbox/openai-realtime.server.ts';
import { agentSettings, endedCall, eventually, placeCall, useCallHarness, type CallHarness, type PlacedCall } from '../support/calls.ts';

/**
 * The agent at work, end to end through real sockets: Twilio Media Streams ↔ Callwatch ↔
 * the OpenAI Realtime stand-in (scripted tool calls), Twilio REST stand-in for hand-overs.
 */

/** A short greeting (a 500 ms tone): the tests wait for it to play before the caller speaks. */
const greeting = { text: 'שלום' };
const greetingMs = 500;
let sequence = 600;
const nextSid = () => `CA${String(++sequence).padStart(32, '0')}`;


/** Places a call with `script`, lets the greeting play, and has the caller say one sentence. */
async function converse(harness: CallHarness, script: SessionScript, options: { speak?: boolean } = {}): Promise<PlacedCall & { statementsAtStart: number }> {
  const placed = await placeCall(harness, nextSid());
  placed.session.script({ callerTranscripts: [fixtureText('caller-booking')], ...script, replies: [greeting, ...(script.replies ?? [])] });
  const statementsAtStart = harness.statements.length;
  placed.caller.start();
  await eventually(() => placed.caller.heardMs(), (ms) => ms >= greetingMs, 'the greeting to play');
  if (options.speak !== false) {
    await placed.caller.play(loadFixture('caller-booking'), { pace: 'instant' });
    await placed.caller.silence(800, { pace: 'instant' });
  }
  return { ...placed, statementsAtStart };
}

async function hangUp(harness: CallHarness, placed: PlacedCall) {
  placed.caller.stop();
  await placed.caller.closed;
  return eventually(() => harness.app.services.orm.em.fork().findOneOrFail(Call, { callSid: placed.callSid }), (row) => row.endedAt !== null && row.endedAt !== undefined, 'the call row');
}

const types = (timeline: CallEvent[]) => timeline.map((event) => event.type);

describe('the agent’s tools', () => {
  const h = useCallHarness();

  it('captures lead details and answers availability with no SQL during the call; both land in the timeline', async () => {
    const call = await converse(h, {
      replies: [
        { toolCall: { name: 'save_lead_details', arguments: { name: 'ד״ר שרה לוי-כהן', city: 'ת"א', service: 'שיפוץ מטבח', notes: 'מעדיפה בוקר' } } },
        { toolCall: { name: 'check_availability', arguments: { part_of_day: 'morning' } } },
        { text: 'יש תור פנוי מחר בבוקר' },
      ],
    });
    const saved = await call.session.waitForToolOutput();
    expect(JSON.parse(saved.output)).toEqual({ saved: true });
    await eventually(() => call.session.toolOutputs.length, (n) => n === 2, 'the availability answer');
    const availability = JSON.parse(call.session.toolOutputs[1]!.output) as { time_zone: string; slots: { start: string }[] };
    expect(availability.time_zone).toBe('Asia/Jerusalem');
    expect(availability.slots.length).toBeGreaterThan(0);
    expect(availability.slots.every((slot) => Number(slot.start.slice(11, 13)) < 12)).toBe(true);
    await eventually(() => call.session.responseRequests.length, (n) => n === 3, 'a response after each tool output');
    expect(h.statements.slice(call.statementsAtStart)).toEqual([]);

    const row = await hangUp(h, call);
    expect(types(row.timeline)).toEqual(['call.started', 'tool.called', 'tool.result', 'lead.captured', 'tool.called', 'tool.result', 'call.ended']);
    const lead = await h.app.services.orm.em.fork().findOneOrFail(Lead, { id: h.sarah.id });
    expect(lead).toMatchObject({ fullName: 'ד״ר שרה לוי-כהן', firstName: 'שרה', city: 'תל אביב-יפו', serviceCategory: 'שיפוץ מטבח', notes: 'מעדיפה בוקר' });
  });

  it('answers invalid tool arguments with an error for the model, and the call goes on', async () => {
    const call = await converse(h, { replies: [{ toolCall: { name: 'book_appointment', arguments: '{"start": "tomorrow at ten"' } }, { text: 'סליחה, לאיזו שעה?' }] });
    const output = await call.session.waitForToolOutput();
    expect(JSON.parse(output.output)).toEqual({ error: 'the arguments are not valid JSON' });
    await eventually(() => call.session.responseRequests.length, (n) => n === 2, 'the agent to go on');
    const row = await hangUp(h, call);
    expect(row.status).toBe('completed');
  });

  it('lets exactly one of two calls racing for one slot book it; the other is offered alternatives — one insert each', async () => {
    const [slot] = freeSlots({ now: new Date(), days: 7, timeZone: 'Asia/Jerusalem', workingHours: defaultWorkingHours, slotMinutes: 30, booked: [] });
    const start = instantToLocal(slot!.start, 'Asia/Jerusalem');
    const script = { replies: [{ toolCall: { name: 'book_appointment', arguments: { start, notes: 'הערכת מחיר' } } }, { text: 'בסדר' }] };
    // Both calls are up first (placing them one after the other), then both callers ask at once.
    const a = await converse(h, script, { speak: false });
    const b = await converse(h, script, { speak: false });
    const statementsBeforeAsking = h.statements.length;
    await Promise.all([a, b].map(async (call) => {
      await call.caller.play(loadFixture('caller-booking'), { pace: 'instant' });
      await call.caller.silence(800, { pace: 'instant' });
    }));
    const outputs = await Promise.all([a, b].map(async (call) => JSON.parse((await call.session.waitForToolOutput()).output) as { booked: boolean; alternatives?: unknown[] }));
    // The only statements while the calls ran: one booking insert per call.
    const during = h.statements.slice(statementsBeforeAsking);
    expect(during).toHaveLength(2);
    expect(during.every((statement) => statement.startsWith('insert into "appointments"'))).toBe(true);
    expect(outputs.map((output) => output.booked).sort()).toEqual([false, true]);
    const loser = outputs.find((output) => !output.booked)!;
    expect(loser).toMatchObject({ error: 'that slot was just taken' });
    expect(loser.alternatives).toHaveLength(3);
    const booked = await sql(h.app.services.orm.em.fork()).selectFrom('Appointment').select('call').where('startsAt', '=', slot!.start).where('status', '=', 'booked').execute();
    expect(booked).toHaveLength(1);
    await Promise.all([hangUp(h, a), hangUp(h, b)]);
  });

  it('transfers to the business’s number once the agent has finished speaking; without a number it says so', async () => {
    const noNumber = await converse(h, { replies: [{ toolCall: { name: 'transfer_to_human', arguments: { reason: 'wants a person' } } }, { text: 'אין נציג זמין' }] });
    expect(JSON.parse((await noNumber.session.waitForToolOutput()).output)).toMatchObject({ transferred: false });
    await eventually(() => noNumber.session.responseRequests.length, (n) => n === 2, 'the agent to offer a callback');
    await hangUp(h, noNumber);

    await agentSettings(h, { transferNumber: '+972529998877' });
    const call = await converse(h, { replies: [{ toolCall: { name: 'transfer_to_human', arguments: { reason: 'wants a person' } } }] });
    const update = await h.twilioApi.waitForRequest((request) => request.method === 'POST' && request.path.endsWith(`/Calls/${call.callSid}.json`));
    expect(update.params.Twiml).toMatch(/<Dial answerOnBridge="true">\+972529998877<\/Dial>/);
    const row = await endedCall(h, call.callSid);
    expect(row.endReason).toBe('transferred');
    expect(row.timeline.find((event) => event.type === 'call.transfer')).toMatchObject({ to: '+972529998877', ok: true, reason: 'wants a person' });
    await agentSettings(h, {});
  });

  it('ends the call through Twilio after the goodbye has played', async () => {
    const call = await converse(h, { replies: [{ toolCall: { name: 'end_call', arguments: { reason: 'the caller said goodbye' } } }] });
    const update = await h.twilioApi.waitForRequest((request) => request.method === 'POST' && request.path.endsWith(`/Calls/${call.callSid}.json`));
    expect(update.params.Status).toBe('completed');
    const row = await endedCall(h, call.callSid);
    expect(row).toMatchObject({ status: 'completed', endReason: 'the caller said goodbye' });
    expect(call.session.responseRequests).toHaveLength(1);
  });
});
