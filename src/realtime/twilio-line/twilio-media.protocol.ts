import { z } from 'zod';

/**
 * Twilio Media Streams, bidirectional (https://www.twilio.com/docs/voice/media-streams/websocket-messages).
 * Inbound messages are parsed into a typed union; `media` — 50 a second per call — and
 * `mark` take a fast path that checks only what the relay needs, the rest go through zod.
 */

export type TwilioMessage =
  | { event: 'connected' }
  | {
      event: 'start';
      streamSid: string;
      callSid: string;
      customParameters: Record<string, string>;
      encoding: string;
      sampleRate: number;
    }
  | { event: 'media'; track: string; timestamp: number; payload: string }
  | { event: 'mark'; name: string }
  | { event: 'dtmf'; digit: string }
  | { event: 'stop' };

export type ParseResult =
  | { ok: true; message: TwilioMessage }
  | { ok: false; problem: 'invalid-json' | 'unknown-event' | 'invalid-payload' };

const startSchema = z.object({
  event: z.literal('start'),
  streamSid: z.string().min(1),
  start: z.object({
    callSid: z.string().min(1),
    streamSid: z.string().min(1).optional(),
    customParameters: z.record(z.string(), z.string()).default({}),
    mediaFormat: z.object({ encoding: z.string(), sampleRate: z.number(), channels: z.number().optional() }),
  }),
});
/** One of the 16 DTMF tones: it goes into what the agent is told, so nothing else passes. */
const dtmfSchema = z.object({ event: z.literal('dtmf'), dtmf: z.object({ digit: z.string().regex(/^[0-9A-D*#]$/) }) });

const base64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** True for a non-empty, well-formed base64 string. */
export function isBase64(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length % 4 === 0 && base64.test(value);
}

export function parseTwilioMessage(raw: string): ParseResult {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return { ok: false, problem: 'invalid-json' };
  }
  if (typeof data !== 'object' || data === null) return { ok: false, problem: 'invalid-json' };
  const message = data as { event?: unknown; media?: { payload?: unknown; track?: unknown; timestamp?: unknown } };
  switch (message.event) {
    case 'media': {
      const media = message.media;
      if (!media || !isBase64(media.payload)) return { ok: false, problem: 'invalid-payload' };
      return {
        ok: true,
        message: { event: 'media', track: String(media.track ?? 'inbound'), timestamp: Number(media.timestamp) || 0, payload: media.payload },
      };
    }
    case 'start': {
      const parsed = startSchema.safeParse(data);
      if (!parsed.success) return { ok: false, problem: 'invalid-payload' };
      const { start, streamSid } = parsed.data;
      return {
        ok: true,
        message: {
          event: 'start',
          streamSid,
          callSid: start.callSid,
          customParameters: start.customParameters,
          encoding: start.mediaFormat.encoding,
          sampleRate: start.mediaFormat.sampleRate,
        },
      };
    }
    case 'mark': {
      // Several a second per call while the agent speaks (a mark per 300 ms of its audio): no zod.
      const name = (data as { mark?: { name?: unknown } }).mark?.name;
      return typeof name === 'string' ? { ok: true, message: { event: 'mark', name } } : { ok: false, problem: 'invalid-payload' };
    }
    case 'dtmf': {
      const parsed = dtmfSchema.safeParse(data);
      return parsed.success ? { ok: true, message: { event: 'dtmf', digit: parsed.data.dtmf.digit } } : { ok: false, problem: 'invalid-payload' };
    }
    case 'connected':
      return { ok: true, message: { event: 'connected' } };
    case 'stop':
      return { ok: true, message: { event: 'stop' } };
    default:
      return { ok: false, problem: 'unknown-event' };
  }
}

/*
 * Outbound messages are assembled as strings: the audio payload is base64 already and is
 * forwarded untouched, never decoded or re-encoded. `streamSid` comes from Twilio's own
 * start message (validated as a plain string) and is JSON-escaped once per call.
 */

export function twilioMediaMessage(streamSidJson: string, payload: string): string {
  return `{"event":"media","streamSid":${streamSidJson},"media":{"payload":"${payload}"}}`;
}

export function twilioMarkMessage(streamSidJson: string, name: string): string {
  return `{"event":"mark","streamSid":${streamSidJson},"mark":{"name":${JSON.stringify(name)}}}`;
}

export function twilioClearMessage(streamSidJson: string): string {
  return `{"event":"clear","streamSid":${streamSidJson}}`;
}
