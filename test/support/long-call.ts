import { israeliCities } from '../../src/core/cities.ts';
import { burstLevels, conversationWavFile, type AudioTurn } from '../../src/sandbox/conversation-audio.ts';
import type { TranscriptionRequest } from '../../src/sandbox/openai-api.server.ts';

/** A scripted turn: who says it, when, for how long, and what a transcriber hears. */
interface ScriptedTurn {
  speaker: 'Caller' | 'Agent';
  startSec: number;
  lengthSec: number;
  text: string;
}

export interface LongCall {
  durationSec: number;
  /** Twilio's dual-channel WAV of the call: the caller on the first channel, the agent on the second. */
  audio: Buffer;
  /** The transcript the pipeline should write: one `Speaker: text` line per turn, in time order. */
  transcript: string;
  /** The caller's city; the agent names others. */
  callerCity: string;
  /** A stand-in transcription handler: the text of every turn in the request's audio, in order. */
  transcribe(request: TranscriptionRequest): string;
}

const LEVEL_BASE = 1000;
const LEVEL_STEP = 80;

/**
 * A 40-minute (by default) inbound call: the agent greets from Haifa, the caller says she
 * lives in Netanya, then turns alternate every few seconds; the caller once pauses 1.5 s
 * mid-answer; the agent explains for 12 minutes without a silence long enough to end a
 * turn (longer than one request may be); at the end the agent names Tel Aviv. Each turn's
 * burst has its own level, which the handler reads back to know what was "said".
 */
export function longCall(durationSec = 2400): LongCall {
  const turns: ScriptedTurn[] = [];
  let at = 1;
  const say = (speaker: ScriptedTurn['speaker'], text: string, lengthSec = 5, pauseAfter = 1.2) => {
    turns.push({ speaker, startSec: at, lengthSec, text });
    at += lengthSec + pauseAfter;
  };
  say('Agent', 'שלום, הגעתם לאינסטלציה גולן בחיפה, במה אפשר לעזור?');
  say('Caller', 'יש לי נזילה מתחת לכיור, אני גרה בנתניה.');
  for (let n = 1; at < 600; n++) {
    say('Agent', `שאלה ${n}?`);
    say('Caller', `תשובה ${n}.`);
  }
  say('Agent', 'אפשר לשמוע עוד פרטים?');
  say('Caller', 'הנזילה התחילה אתמול', 3, 1.5);
  say('Caller', 'והיא מחמירה.');
  // Twelve minutes in 36 parts 0.5 s apart: one turn to a speech detector, too long for one request.
  for (let part = 1; part <= 36; part++) say('Agent', `הסבר חלק ${part}.`, 19.5, part === 36 ? 1.2 : 0.5);
  for (let n = 1; at < durationSec - 30; n++) {
    say('Caller', `שאלת המשך ${n}?`);
    say('Agent', `מענה ${n}.`);
  }
  say('Agent', 'יש לנו גם סניף בתל אביב. תודה ולהתראות.');
  if (LEVEL_BASE + LEVEL_STEP * turns.length > 30_000) throw new RangeError('too many turns to tell apart by level');

  const audioTurns: AudioTurn[] = turns.map((turn, index) => ({
    channel: turn.speaker === 'Caller' ? 0 : 1,
    startSec: turn.startSec,
    lengthSec: turn.lengthSec,
    level: LEVEL_BASE + LEVEL_STEP * index,
  }));
  const lines: string[] = [];
  turns.forEach((turn, index) => {
    if (index > 0 && turns[index - 1]!.speaker === turn.speaker) lines[lines.length - 1] += ` ${turn.text}`;
    else lines.push(`${turn.speaker}: ${turn.text}`);
  });

  return {
    durationSec,
    audio: conversationWavFile(audioTurns, durationSec),
    transcript: lines.join('\n'),
    callerCity: 'נתניה',
    transcribe: (request) =>
      burstLevels(request.audio)
        .map((level) => turns[Math.round((level - LEVEL_BASE) / LEVEL_STEP)]?.text ?? '???')
        .join(' '),
  };
}

/**
 * A stand-in extraction answer that takes the city from the caller's lines only, as the
 * instructions ask: the first known city a `Caller:` line names.
 */
export function cityFromCallerLines(transcript: string): string | null {
  for (const line of transcript.split('\n')) {
    if (!line.startsWith('Caller:')) continue;
    const city = israeliCities.find((name) => line.includes(name));
    if (city) return city;
  }
  return null;
}
