import type OpenAI from 'openai';
import type { Transcription } from 'openai/resources/audio/transcriptions';
import { toFile } from 'openai';
import { sql } from '../../entities/sql.ts';
import { askOpenAI } from './ai.ts';
import { readPcmWav, spanWav } from './recording-audio.ts';
import type { PipelineStepModule, StepDeps, StepOutcome } from './step.ts';
import { transcriptionHints, type TranscriptionHints } from './transcription-hints.ts';
import { MAX_REQUEST_BYTES, mergeTranscript, planRequests } from './transcription-plan.ts';

/** Requests in flight at once for one call: enough to finish a 2-hour call in minutes, few enough not to hit rate limits. */
export const TRANSCRIPTION_CONCURRENCY = 4;

/**
 * Step 2: transcribe the downloaded recording with OpenAI (`audio.transcriptions`) into
 * `finalTranscript`, and drop the stored audio in the same statement. The recording is the
 * one this run downloaded, or else the stored one (a run resuming here). Without a
 * downloaded recording → skipped: the realtime transcript stands in (webhook
 * `transcript_source: "realtime"`).
 *
 * A call of any length fits OpenAI's limits: Twilio's WAV is cut into the spans where
 * someone speaks (transcription-plan.ts), each sent alone as a small mono WAV, a few at a
 * time. A dual-channel recording gives a `Caller: …` / `Agent: …` transcript in time order,
 * so summary and extraction know who said what; a mono one gives unlabelled text. Every
 * request carries the business's language and vocabulary hints. A request OpenAI refuses
 * for good fails the step; one that may succeed later retries the step (from its start:
 * the SDK has already retried it twice).
 */
export const transcribe: PipelineStepModule = {
  name: 'transcribe',
  produces: ['finalTranscript'],
  async run(call, deps) {
    if (call.pipelineSteps.download?.status !== 'done') return { outcome: 'skipped', reason: 'no recording to transcribe' };
    const recording =
      deps.recording ?? (await sql(deps.em).selectFrom('CallRecording').select(['audio', 'contentType']).where('call', '=', call.id).executeTakeFirst());
    // Gone after a finished transcription whose result was recorded; a reprocess downloads again.
    if (!recording) return { outcome: 'failed', error: 'the downloaded recording is missing; reprocess the call to download it again' };

    const hints = transcriptionHints(call, deps.config.openai.transcribeModel);
    const audio = Buffer.isBuffer(recording.audio) ? recording.audio : Buffer.from(recording.audio.buffer, recording.audio.byteOffset, recording.audio.byteLength);
    const pcm = readPcmWav(audio);
    let transcript: string | null;
    /** Seconds of audio sent: the spans cut from a PCM WAV, or what OpenAI reports for a file sent whole. */
    let transcriptionSec: number;
    if (pcm) {
      const requests = planRequests(pcm);
      const files = requests.map((request) => () => spanWav(pcm, request.span));
      const answers = await transcribeAll(files, 'audio/wav', hints, deps);
      if (!Array.isArray(answers)) return answers;
      transcript = mergeTranscript(requests, answers.map((answer) => answer.text));
      transcriptionSec = requests.reduce((total, { span }) => total + (span.end - span.start) / pcm.sampleRate, 0);
    } else {
      // Not a PCM WAV (another container): it cannot be cut here, so it goes whole if it fits.
      if (audio.length > MAX_REQUEST_BYTES) {
        return { outcome: 'failed', error: `transcription: the recording (${recording.contentType}, ${audio.length} bytes) is not a PCM WAV and too large to send whole` };
      }
      const answers = await transcribeAll([() => audio], recording.contentType, hints, deps);
      if (!Array.isArray(answers)) return answers;
      transcript = answers[0]?.text || null;
      // Billed by the second, OpenAI says how many; billed by tokens, the duration is not known here.
      transcriptionSec = answers[0]?.usage?.type === 'duration' ? answers[0].usage.seconds : 0;
    }
    return { outcome: 'done', changes: { finalTranscript: transcript }, dropRecording: true, usage: { transcriptionSec } };
  },
};

/**
 * Transcribes each file, at most TRANSCRIPTION_CONCURRENCY at a time, into its text (in
 * the files' order). The first permanent refusal ends the others and is the step's
 * outcome; a retryable failure ends the others and is thrown. Files are written only when
 * their turn comes, so a long call holds a few request bodies in memory, not all.
 */
async function transcribeAll(files: (() => Buffer)[], contentType: string, hints: TranscriptionHints, deps: StepDeps): Promise<Answer[] | StepOutcome> {
  const texts: Answer[] = Array.from({ length: files.length }, () => ({ text: '' }));
  const stop = new AbortController();
  const signal = AbortSignal.any([deps.signal, stop.signal]);
  let refused: StepOutcome | null = null;
  let thrown: { error: unknown } | null = null;
  let next = 0;

  const request = (openai: OpenAI, file: Buffer) =>
    toFile(file, contentType === 'audio/wav' || contentType === 'audio/x-wav' ? 'recording.wav' : fileName(contentType), { type: contentType }).then((upload) =>
      openai.audio.transcriptions.create(
        { file: upload, model: deps.config.openai.transcribeModel, response_format: 'json', ...hints },
        { signal },
      ),
    );

  async function worker(): Promise<void> {
    while (!refused && !thrown) {
      const index = next++;
      if (index >= files.length) return;
      try {
        const answer = await askOpenAI('transcription', deps.openai, (openai) => request(openai, files[index]!()));
        if (!answer.ok) {
          refused ??= answer.outcome;
          stop.abort();
          return;
        }
        texts[index] = { text: answer.value.text.trim(), usage: answer.value.usage };
      } catch (error) {
        thrown ??= { error };
        stop.abort();
        return;
      }
    }
  }

  await Promise.all(Array.from({ length: Math.min(TRANSCRIPTION_CONCURRENCY, files.length) }, worker));
  if (refused) return refused;
  if (thrown) throw (thrown as { error: unknown }).error;
  return texts;
}

/** One request's answer: the text, and what OpenAI says it used. */
interface Answer {
  text: string;
  usage?: Transcription['usage'];
}

/** A file name whose extension tells OpenAI the format, which it reads from the name. */
function fileName(contentType: string): string {
  const subtype = /^audio\/(?:x-)?([a-z0-9]+)/i.exec(contentType)?.[1]?.toLowerCase();
  const extension = subtype === 'mpeg' ? 'mp3' : subtype === 'wave' ? 'wav' : (subtype ?? 'wav');
  return `recording.${extension}`;
}
