import { describe, expect, it } from 'vitest';
import { freeSlots } from '../../src/core/business-hours.ts';
import { AppError } from '../../src/core/errors.ts';
import { defaultWorkingHours } from '../../src/entities/business-settings.entity.ts';
import type { CallContext } from '../../src/realtime/call-context.ts';
import { CallTools } from '../../src/realtime/agent/tools/call-tools.ts';
import { parseToolCall, toolDefinitions, toolNames } from '../../src/realtime/agent/tools/definitions.ts';

/** Sunday 22 November 2026, 09:30 in Israel (UTC+2). */
const now = new Date('2026-11-22T07:30:00Z');
const timeZone = 'Asia/Jerusalem';

function context(overrides: Partial<CallContext['settings']> = {}): CallContext {
  const slots = freeSlots({ now, days: 3, timeZone, workingHours: defaultWorkingHours, slotMinutes: 60, booked: [] });
  return {
    callId: 'call-1',
    callSid: `CA${'1'.repeat(32)}`,
    direction: 'inbound',
    business: { id: 'b-1', name: 'שיפוצי הגליל', timeZone, locale: 'he-IL' },
    settings: { voice: 'alloy', language: 'he', recordCalls: false, silenceTimeoutSec: 8, silenceReprompts: 2, maxCallDurationSec: 900, transferNumber: null, appointmentSlotMinutes: 60, dialingCountries: ['IL'], ...overrides },
    lead: null,
    outboundJob: null,
    slots,
    greeting: 'שלום',
    instructions: '',
  };
}

function tools(options: { taken?: string[]; overrides?: Partial<CallContext['settings']> } = {}) {
  const booked: Date[] = [];
  const callTools = new CallTools({
    context: context(options.overrides),
    now: () => now,
    book: async ({ startsAt }) => {
      if (options.taken?.includes(startsAt.toISOString())) throw new AppError('CONFLICT', 'taken');
      booked.push(startsAt);
      return { appointmentId: `appt-${booked.length}` };
    },
  });
  return { callTools, booked };
}

describe('agent tool declarations', () => {
  it('declares every tool with a JSON schema, and parses only what matches it', () => {
    expect(toolDefinitions.map((tool) => tool.name)).toEqual(toolNames);
    expect(parseToolCall('book_appointment', '{"start":"2026-11-23T10:00"}')).toEqual({ ok: true, name: 'book_appointment', args: { start: '2026-11-23T10:00' } });
    expect(parseToolCall('book_appointment', '{"start":"tomorrow"}')).toEqual({ ok: false, error: 'invalid arguments: start: must be a local date and time, YYYY-MM-DDTHH:MM' });
    expect(parseToolCall('book_appointment', '{"start":')).toEqual({ ok: false, error: 'the arguments are not valid JSON' });
    expect(parseToolCall('save_lead_details', '{"shoe_size":42}')).toMatchObject({ ok: false, error: expect.stringContaining('shoe_size') });
    expect(parseToolCall('save_lead_details', '{}')).toMatchObject({ ok: false, error: expect.stringContaining('at least one') });
    expect(parseToolCall('order_pizza', '{}')).toMatchObject({ ok: false, error: expect.stringMatching(/^unknown tool "order_pizza"/) });
  });
});

describe('agent tools', () => {
  it('answers availability from the preloaded slots, by day and part of day, in local time', async () => {
    const { callTools } = tools();
    const morning = await callTools.run('check_availability', '{"date":"2026-11-23","part_of_day":"morning"}');
    expect(morning.output).toEqual({
      time_zone: timeZone,
      slots: ['09:00', '10:00', '11:00'].map((time) => ({ start: `2026-11-23T${time}`, end: `2026-11-23T${String(Number(time.slice(0, 2)) + 1).padStart(2, '0')}:00`, weekday: 'Monday' })),
    });
    const next = await callTools.run('check_availability', '{}');
    // Today from 11:00: the lead time (60 min) rules out 10:00.
    expect((next.output.slots as { start: string }[])[0]?.start).toBe('2026-11-22T11:00');
    const past = await callTools.run('check_availability', '{"date":"2026-11-20"}');
    expect(past).toMatchObject({ failed: true, output: { error: '2026-11-20 has passed; ask for a day from today on' } });
    const saturday = await callTools.run('check_availability', '{"date":"2026-11-28"}');
    expect(saturday.output).toMatchObject({ slots: [], message: expect.stringContaining('nearest') });
  });

  it('books a free slot once, then no longer offers it', async () => {
    const { callTools, booked } = tools();
    const result = await callTools.run('book_appointment', '{"start":"2026-11-23T10:00","notes":"kitchen"}');
    expect(result).toEqual({ output: { booked: true, appointment_id: 'appt-1', start: '2026-11-23T10:00', end: '2026-11-23T11:00' }, effect: 'continue', failed: false });
    expect(booked).toEqual([new Date('2026-11-23T08:00:00Z')]);
    const again = await callTools.run('book_appointment', '{"start":"2026-11-23T10:00"}');
    expect(again.output).toMatchObject({ booked: false, error: '2026-11-23T10:00 is not a free slot' });
    const morning = await callTools.run('check_availability', '{"date":"2026-11-23","part_of_day":"morning"}');
    expect((morning.output.slots as { start: string }[]).map((slot) => slot.start)).toEqual(['2026-11-23T09:00', '2026-11-23T11:00']);
  });

  it('answers a slot taken meanwhile with the nearest free alternatives', async () => {
    const { callTools } = tools({ taken: ['2026-11-23T08:00:00.000Z'] });
    const result = await callTools.run('book_appointment', '{"start":"2026-11-23T10:00"}');
    expect(result.failed).toBe(true);
    expect(result.output).toEqual({
      booked: false,
      error: 'that slot was just taken',
      alternatives: [
        { start: '2026-11-23T09:00', end: '2026-11-23T10:00', weekday: 'Monday' },
        { start: '2026-11-23T11:00', end: '2026-11-23T12:00', weekday: 'Monday' },
        { start: '2026-11-23T12:00', end: '2026-11-23T13:00', weekday: 'Monday' },
      ],
    });
  });

  it('refuses a past slot, keeps lead details, transfers only with a number, ends on request', async () => {
    const { callTools } = tools();
    expect(await callTools.run('book_appointment', '{"start":"2026-11-22T08:00"}')).toMatchObject({ failed: true, output: { error: '2026-11-22T08:00 has passed; offer a later slot' } });
    await callTools.run('save_lead_details', '{"name":"ד״ר שרה לוי","city":"חיפה"}');
    await callTools.run('save_lead_details', '{"service":"שיפוץ מטבח","notes":"מעדיפה בוקר"}');
    expect(callTools.lead).toEqual({ name: 'ד״ר שרה לוי', city: 'חיפה', service: 'שיפוץ מטבח', notes: ['מעדיפה בוקר'] });
    expect(await callTools.run('transfer_to_human', '{"reason":"wants a person"}')).toMatchObject({ effect: 'continue', output: { transferred: false } });
    expect(await tools({ overrides: { transferNumber: '+972501234567' } }).callTools.run('transfer_to_human', '{"reason":"wants a person"}')).toMatchObject({ effect: 'transfer' });
    expect(await callTools.run('end_call', '{"reason":"done"}')).toMatchObject({ effect: 'end-call' });
  });
});
