import { z } from 'zod';

/**
 * Twilio Media Streams over a bidirectional websocket
 * (https://www.twilio.com/docs/voice/media-streams/websocket-messages), as seen from
 * Twilio's side: the messages Twilio sends are typed here for the simulated caller to
 * build, the ones it receives are parsed with zod. Numbers Twilio sends as strings
 * (sequenceNumber, chunk, timestamp) stay strings.
 */

/** First message on a new stream. */
export interface ConnectedMessage {
  event: 'connected';
  protocol: 'Call';
  version: '1.0.0';
}

/** Stream metadata; sequenceNumber "1". */
export interface StartMessage {
  event: 'start';
  sequenceNumber: string;
  start: {
    accountSid: string;
    streamSid: string;
    callSid: string;
    tracks: ['inbound'] | ['outbound'] | ['inbound', 'outbound'];
    customParameters: Record<string, string>;
    mediaFormat: { encoding: 'audio/x-mulaw'; sampleRate: 8000; channels: 1 };
  };
  streamSid: string;
}

/** 20 ms (160 bytes) of caller audio. `chunk` counts from "1"; `timestamp` is ms since stream start. */
export interface InboundMediaMessage {
  event: 'media';
  sequenceNumber: string;
  media: { track: 'inbound'; chunk: string; timestamp: string; payload: string };
  streamSid: string;
}

/** A mark the server sent, returned once the audio sent before it has played (or was cleared). */
export interface ReturnedMarkMessage {
  event: 'mark';
  sequenceNumber: string;
  streamSid: string;
  mark: { name: string };
}

/** A key the caller pressed. */
export interface DtmfMessage {
  event: 'dtmf';
  sequenceNumber: string;
  streamSid: string;
  dtmf: { track: 'inbound_track'; digit: string };
}

/** The stream ended (the call hung up or the stream was stopped). */
export interface StopMessage {
  event: 'stop';
  sequenceNumber: string;
  stop: { accountSid: string; callSid: string };
  streamSid: string;
}

/** Everything Twilio sends on a media stream. */
export type TwilioToServerMessage = ConnectedMessage | StartMessage | InboundMediaMessage | ReturnedMarkMessage | DtmfMessage | StopMessage;

const outboundMedia = z.object({
  event: z.literal('media'),
  streamSid: z.string(),
  media: z.object({ payload: z.base64() }),
});
const outboundMark = z.object({
  event: z.literal('mark'),
  streamSid: z.string(),
  mark: z.object({ name: z.string() }),
});
const outboundClear = z.object({
  event: z.literal('clear'),
  streamSid: z.string(),
});

/** What a server may send Twilio on a bidirectional stream: audio to play, a mark, or clear. */
export const serverToTwilioMessage = z.discriminatedUnion('event', [outboundMedia, outboundMark, outboundClear]);
export type ServerToTwilioMessage = z.infer<typeof serverToTwilioMessage>;

/** Parses one message from the server; a reason instead when Twilio would reject it. */
export function parseServerMessage(raw: string, streamSid: string): { ok: true; message: ServerToTwilioMessage } | { ok: false; reason: string } {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  const parsed = serverToTwilioMessage.safeParse(json);
  if (!parsed.success) return { ok: false, reason: parsed.error.issues.map((issue) => `${issue.path.join('.') || 'message'}: ${issue.message}`).join('; ') };
  if (parsed.data.streamSid !== streamSid) return { ok: false, reason: `streamSid ${parsed.data.streamSid} is not this stream's (${streamSid})` };
  return { ok: true, message: parsed.data };
}
