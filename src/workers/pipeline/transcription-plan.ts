import { DEFAULT_SEGMENTATION, speechSpans, type AudioSpan, type PcmRecording } from './recording-audio.ts';

export type Speaker = 'Caller' | 'Agent';

/** One transcription request: a span of one channel, and who speaks in it (null: unknown, mono). */
export interface PlannedRequest {
  span: AudioSpan;
  speaker: Speaker | null;
}

/**
 * Every request stays well inside OpenAI's limits — 25 MiB of upload and 1500 s of audio
 * for the gpt-4o transcribe models (1400 s for the diarize one): at most 10 minutes, and
 * at most 20 MiB of mono PCM whatever the sample rate.
 */
export const MAX_REQUEST_SEC = 600;
export const MAX_REQUEST_BYTES = 20 * 1024 * 1024;

/** A speaker's consecutive turns closer than this go in one request (fewer, longer requests). */
const SAME_SPEAKER_JOIN_SEC = 3;
/** In a mono recording there is no turn order to keep: only long silences (hold, IVR) are left out. */
const MONO_JOIN_SEC = 30;

/**
 * Who is on which channel of Twilio's dual-channel recording. Twilio documents `dual` as
 * "records each party of a 2-party call into separate channels" and that "the first
 * channel … contains the parent call and the second channel contains the child call"
 * (Recording resource, RecordingChannels); a call with <Connect><Stream> has no child leg,
 * and the two tracks are Twilio's `inbound` (audio received by Twilio from the phone) and
 * `outbound` (audio Twilio generates — here the agent's voice sent back over the stream;
 * twilio.com/docs/voice/tutorials/how-record-single-side-call). Flex's dual-channel guide
 * likewise puts the customer on the first (left) channel. So channel 1 is the person on
 * the phone — the caller of an inbound call, the person called on an outbound-api call —
 * and channel 2 is the agent. Callwatch labels the person on the phone `Caller` in both
 * directions, as the realtime transcript does.
 */
const DUAL_CHANNEL_SPEAKERS: readonly Speaker[] = ['Caller', 'Agent'];

/**
 * The requests that transcribe a recording: each channel's speech spans, in time order
 * across channels, a speaker's consecutive spans joined while the result stays within the
 * request limits. Silence is never sent. Recordings with more than two channels are not
 * Twilio's; their extra channels are ignored.
 */
export function planRequests(recording: PcmRecording): PlannedRequest[] {
  const dual = recording.channels.length >= 2;
  const maxSec = Math.min(MAX_REQUEST_SEC, Math.floor((MAX_REQUEST_BYTES - 44) / (2 * recording.sampleRate)));
  const segmentation = { ...DEFAULT_SEGMENTATION, maxSpanSec: maxSec };
  const channels = dual ? [0, 1] : [0];
  const spans = channels
    .flatMap((channel) => speechSpans(recording.channels[channel]!, recording.sampleRate, channel, segmentation))
    .sort((a, b) => a.start - b.start || a.channel - b.channel);

  const joinGap = (dual ? SAME_SPEAKER_JOIN_SEC : MONO_JOIN_SEC) * recording.sampleRate;
  const maxSamples = maxSec * recording.sampleRate;
  const requests: PlannedRequest[] = [];
  for (const span of spans) {
    const last = requests.at(-1);
    if (last && last.span.channel === span.channel && span.start - last.span.end <= joinGap && span.end - last.span.start <= maxSamples) {
      last.span = { ...last.span, end: span.end };
    } else {
      requests.push({ span: { ...span }, speaker: dual ? DUAL_CHANNEL_SPEAKERS[span.channel]! : null });
    }
  }
  return requests;
}

/**
 * The transcript from the requests' texts, in the requests' order: `Speaker: text`, one
 * line per turn, as the realtime transcript reads (a speaker's consecutive pieces on one
 * line); unlabelled pieces joined with spaces. Null when nothing was said.
 */
export function mergeTranscript(requests: readonly PlannedRequest[], texts: readonly string[]): string | null {
  const lines: { speaker: Speaker | null; text: string }[] = [];
  requests.forEach((request, index) => {
    const text = texts[index]?.replace(/\s+/g, ' ').trim() ?? '';
    if (text === '') return;
    const last = lines.at(-1);
    if (last && last.speaker === request.speaker) last.text += ` ${text}`;
    else lines.push({ speaker: request.speaker, text });
  });
  if (lines.length === 0) return null;
  return lines.map(({ speaker, text }) => (speaker ? `${speaker}: ${text}` : text)).join('\n');
}
