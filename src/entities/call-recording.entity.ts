import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Call } from './call.entity.ts';

/**
 * A call's recording as the post-call pipeline downloaded it from Twilio: the download
 * step's result, kept only until the transcription step has used it (the recording stays
 * at Twilio, `Call.recordingUrl`). Separate from `calls` so the call log never drags
 * megabytes of audio through its queries.
 */
export const CallRecording = defineEntity({
  name: 'CallRecording',
  tableName: 'call_recordings',
  properties: {
    call: () => p.oneToOne(Call).owner().primary().deleteRule('cascade'),
    contentType: p.string(),
    audio: p.blob(),
    downloadedAt: p.datetime().onCreate(() => new Date()),
  },
});
export type CallRecording = InferEntity<typeof CallRecording>;
