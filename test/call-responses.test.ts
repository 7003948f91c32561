import { describe, expect, it } from 'vitest';
import { BusinessSettings } from '../src/entities/business-settings.entity.ts';
import { agentSettings, endedCall, eventually, placeCall, useCallHarness, type CallHarness } from './support/calls.ts';

/**
 * The responses Callwatch asks of the model, end to end against the Realtime stand-in:
 * what each one is told, when it is sent, and what happens when the service refuses,
 * fails or cuts one short.
 */

let sequence = 1600;
const nextSid = () => `CA${String(++sequence).padStart(32, '0')}`;

const persona = 'את נועה, המזכירה של שיפוצי הגליל. דברי בחום ובקיצור.';

async function setPersona(h: CallHarness): Promise<void> {
  const em = h.app.services.orm.em.fork();
  const row = await em.findOneOrFail(BusinessSettings, { business: h.business.id });
  row.agentInstructions = persona;
  await em.flush();
}

describe('per-response instructions', () => {
  const h = useCallHarness();

  it('keep the business prompt and its language in the greeting, the reprompt, the goodbye and the apology (regression: each replaced the prompt)', async () => {
    await agentSettings(h, { silenceTimeoutSec: 1, silenceReprompts: 1 });
    await setPersona(h);
    const { caller, session, callSid } = await placeCall(h, nextSid());
    session.script({ replies: [{ text: 'שלום' }] });
    caller.start();
    await eventually(() => session.responseRequests.length, (n) => n >= 1, 'the greeting');
    // The connection drops after the greeting: the resumed session apologises, then the watchdog reprompts and says goodbye.
    await eventually(() => caller.heardMs(), (ms) => ms >= 400, 'the greeting played');
    const sessionsBefore = h.openai.sessions.length;
    session.drop();
    await eventually(() => h.openai.sessions.length, (n) => n > sessionsBefore, 'the reconnect');
    const resumed = h.openai.sessions[sessionsBefore]!;
    resumed.script({ replies: [{ text: 'סליחה' }, { text: 'הלו?' }, { text: 'להתראות' }] });
    const row = await endedCall(h, callSid);
    expect(row.endReason).toBe('caller silent');

    const instructions = [...session.responseRequests, ...resumed.responseRequests].map((request) => request.instructions ?? '');
    expect(instructions).toEqual([
      expect.stringContaining('Say exactly this'),
      expect.stringContaining('Apologise'),
      expect.stringContaining('still on the line'),
      expect.stringContaining('goodbye'),
    ]);
    for (const text of instructions) {
      expect(text.startsWith(persona)).toBe(true);
      expect(text).toContain('Hebrew');
    }
    caller.stop();
    await caller.closed;
  });
});
