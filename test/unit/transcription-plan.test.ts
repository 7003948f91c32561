import { describe, expect, it } from 'vitest';
import { conversationWavFile, type AudioTurn } from '../../src/sandbox/conversation-audio.ts';
import { wavFile } from '../../src/sandbox/wav.ts';
import { readPcmWav, spanWav, speechSpans } from '../../src/workers/pipeline/recording-audio.ts';
import type { PipelineCall } from '../../src/workers/pipeline/state.ts';
import { MAX_PROMPT_CHARS, transcriptionHints } from '../../src/workers/pipeline/transcription-hints.ts';
import { mergeTranscript, planRequests } from '../../src/workers/pipeline/transcription-plan.ts';

const rate = 8000;
const turn = (channel: 0 | 1, startSec: number, lengthSec: number): AudioTurn => ({ channel, startSec, lengthSec, level: 6000 });
const seconds = (span: { start: number; end: number }) => [span.start / rate, span.end / rate];

describe('cutting a recording for transcription', () => {
  it('reads Twilio’s WAV per channel, and nothing that is not 16-bit PCM WAV', () => {
    const pcm = readPcmWav(wavFile(Int16Array.from([1, -1, 2, -2, 3, -3]), { sampleRate: rate, channels: 2 }));
    expect(pcm).toMatchObject({ sampleRate: rate, durationSec: 3 / rate });
    expect(pcm?.channels.map((channel) => [...channel])).toEqual([
      [1, 2, 3],
      [-1, -2, -3],
    ]);
    expect(readPcmWav(Buffer.from('ID3\x03 not a wav'))).toBeNull();
    const eightBit = wavFile(Int16Array.from([0, 0]), { sampleRate: rate, channels: 1 });
    eightBit.writeUInt16LE(8, 34);
    expect(readPcmWav(eightBit)).toBeNull();
  });

  it('finds turns: pauses under 0.7 s stay inside a turn, clicks are not turns, each turn padded by 0.2 s', () => {
    const audio = conversationWavFile([turn(0, 1, 2), turn(0, 3.5, 1), turn(0, 6, 0.1), turn(0, 8, 1)], 10, { channels: 1 });
    const { channels } = readPcmWav(audio)!;
    expect(speechSpans(channels[0]!, rate, 0).map(seconds)).toEqual([
      [0.8, 4.7],
      [7.8, 9.2],
    ]);
  });

  it('labels the first channel Caller and the second Agent, in time order, joining a speaker’s turns less than 3 s apart', () => {
    const audio = conversationWavFile([turn(1, 0.5, 2), turn(0, 3, 2), turn(0, 6.5, 1), turn(1, 8, 1), turn(1, 14, 1)], 16);
    const requests = planRequests(readPcmWav(audio)!);
    expect(requests.map((r) => [r.speaker, ...seconds(r.span)])).toEqual([
      ['Agent', 0.3, 2.7],
      ['Caller', 2.8, 7.7],
      ['Agent', 7.8, 9.2],
      ['Agent', 13.8, 15.2],
    ]);
  });

  it('cuts a monologue longer than 10 minutes at its quietest moment, and leaves long silences out of a mono recording', () => {
    // 700 s of speech with a 0.5 s breath at 590 s, then 60 s of silence, then more speech.
    const audio = conversationWavFile([turn(0, 0, 590), turn(0, 590.5, 109.5), turn(0, 760, 5)], 770, { channels: 1 });
    const pcm = readPcmWav(audio)!;
    const requests = planRequests(pcm);
    expect(requests.map((r) => [r.speaker, ...seconds(r.span)])).toEqual([
      [null, 0, 590],
      [null, 590, 700.2],
      [null, 759.8, 765.2],
    ]);
    const piece = spanWav(pcm, requests[0]!.span);
    expect(piece.length).toBe(44 + 590 * rate * 2);
    expect(readPcmWav(piece)?.channels).toHaveLength(1);
  });

  it('merges the pieces’ texts into one line per turn, skipping what came back empty', () => {
    const span = { channel: 0, start: 0, end: 1 };
    const requests = [
      { span, speaker: 'Agent' as const },
      { span, speaker: 'Caller' as const },
      { span, speaker: 'Agent' as const },
      { span, speaker: 'Agent' as const },
      { span, speaker: 'Caller' as const },
    ];
    expect(mergeTranscript(requests, ['שלום', ' אני  מנתניה ', '', 'הבנתי.', 'תודה'])).toBe('Agent: שלום\nCaller: אני מנתניה\nAgent: הבנתי.\nCaller: תודה');
    expect(mergeTranscript([{ span, speaker: null }, { span, speaker: null }], ['א', 'ב'])).toBe('א ב');
    expect(mergeTranscript(requests, ['', '', '', '', ''])).toBeNull();
  });
});

describe('transcription hints', () => {
  const call = {
    settings: {
      language: 'he',
      businessName: 'אינסטלציה גולן',
      extractionSchema: [{ name: 'service', type: 'string', enum: ['פתיחת סתימה', 'תיקון נזילה'] }],
    },
  } as unknown as PipelineCall;

  it('sends the business’s words, then cities, within the budget; keywords only to gpt-transcribe; no prompt to the diarize model', () => {
    const hints = transcriptionHints(call, 'gpt-transcribe');
    expect(hints.language).toBe('he');
    expect(hints.prompt).toMatch(/^אינסטלציה גולן, פתיחת סתימה, תיקון נזילה, תל אביב-יפו, ירושלים, /);
    expect(hints.prompt!.length).toBeLessThanOrEqual(MAX_PROMPT_CHARS);
    expect(hints.keywords?.slice(0, 4)).toEqual(['אינסטלציה גולן', 'פתיחת סתימה', 'תיקון נזילה', 'תל אביב-יפו']);
    expect(transcriptionHints(call, 'gpt-4o-transcribe')).toEqual({ language: 'he', prompt: hints.prompt });
    expect(transcriptionHints(call, 'gpt-4o-transcribe-diarize')).toEqual({ language: 'he' });
  });
});
