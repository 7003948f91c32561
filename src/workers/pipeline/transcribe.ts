import { toFile } from 'openai';
import { sql } from '../../entities/sql.ts';
import { askOpenAI } from './ai.ts';
import type { PipelineStepModule } from './step.ts';

/**
 * Step 2: transcribe the downloaded recording with OpenAI (`audio.transcriptions`, the
 * business's language as the hint — Hebrew by default) into `finalTranscript`, and drop
 * the stored audio in the same statement. The recording is the one this run downloaded,
 * or else the stored one (a run resuming here). Without a downloaded recording → skipped:
 * the realtime transcript stands in (webhook `transcript_source: "realtime"`).
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

    const answer = await askOpenAI('transcription', deps.openai, async (openai) => {
      const file = await toFile(recording.audio, 'recording.wav', { type: recording.contentType });
      return openai.audio.transcriptions.create(
        { file, model: deps.config.openai.transcribeModel, language: call.settings.language, response_format: 'json' },
        { signal: deps.signal },
      );
    });
    if (!answer.ok) return answer.outcome;
    const text = answer.value.text.trim();
    return { outcome: 'done', changes: { finalTranscript: text === '' ? null : text }, dropRecording: true };
  },
};
