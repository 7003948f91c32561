import { describe, expect, it } from 'vitest';
import { CallTranscript } from '../../src/realtime/session/call-transcript.ts';

describe('call transcript', () => {
  const text = 'aaaa bbbb cccc dddd';

  it('trims an interrupted agent turn once, when its final transcript comes after the interruption', () => {
    const transcript = new CallTranscript();
    transcript.agent('item_1', '2026-11-22T08:00:00.000Z');
    transcript.interrupted('item_1', 950, 1900);
    expect(transcript.agentDone('item_1', text, '2026-11-22T08:00:01.000Z')).toMatchObject({ text: 'aaaa bbbb', interrupted: true });
    expect(transcript.turns()).toEqual([{ speaker: 'agent', text: 'aaaa bbbb', at: '2026-11-22T08:00:00.000Z', interrupted: true }]);
  });

  it('trims the deltas received when no final transcript comes, and only at the end', () => {
    const transcript = new CallTranscript();
    transcript.agent('item_1', '2026-11-22T08:00:00.000Z').text = text;
    transcript.interrupted('item_1', 950, 1900);
    transcript.callerStarted('item_2', '2026-11-22T08:00:02.000Z');
    transcript.callerDone('item_2', ' רגע ', '2026-11-22T08:00:03.000Z');
    // What a reconnected session is told: as heard, without trimming for good.
    expect(transcript.snapshot().map((turn) => turn.text)).toEqual(['aaaa bbbb', 'רגע']);
    expect(transcript.turns().map((turn) => turn.text)).toEqual(['aaaa bbbb', 'רגע']);
    expect(transcript.turns().map((turn) => turn.text)).toEqual(['aaaa bbbb', 'רגע']);
  });
});
