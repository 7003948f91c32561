import type { RealtimeServerEvent, ResponseAudioDeltaEvent } from 'openai/resources/realtime/realtime';
import { z } from 'zod';
import { stripControlCharacters } from '../../core/control-characters.ts';
import type { IsViewOf } from '../../core/type-view.ts';
import { isBase64 } from '../twilio-line/twilio-media.protocol.ts';

/**
 * The OpenAI Realtime server events, parsed at the boundary. Every event the call path
 * reads has a zod schema here, keyed by its `type`, that keeps only the fields the call
 * path reads; each schema's output is checked at compile time to be a view of the SDK's
 * type for that event (`IsViewOf`), so `tsc` fails when the SDK renames or retypes a
 * field we read. Inside, the session trusts these types.
 *
 * Every message is one of:
 * - `event`: a handled type, valid;
 * - `invalid`: not JSON, no string `type`, or a handled type that fails its schema;
 * - `ignored`: a type the call path knows and deliberately does not read, because it
 *   reads the same thing whole elsewhere (content parts, argument and text deltas) or
 *   never asks for it (`input_audio_buffer.cleared`). Not counted: every response
 *   carries some, and counting them would bury the types that matter;
 * - `unhandled`: any other type — one the SDK knows but the call path does not (MCP,
 *   WebRTC buffers, diarized segments), or one newer than the SDK. The session counts
 *   these by type (`openai_unhandled_event_total{type}`), which is how a new event the
 *   service started sending shows up.
 */

/** The SDK's type of server event `K`. */
type Sdk<K extends RealtimeServerEvent['type']> = Extract<RealtimeServerEvent, { type: K }>;

/**
 * Text the model wrote or heard (transcripts, function-call arguments): stored with the
 * call, so control characters are stripped here, where it enters (core/control-characters.ts).
 */
const modelText = z.string().transform(stripControlCharacters);

const audioFormat = z.object({ type: z.enum(['audio/pcm', 'audio/pcmu', 'audio/pcma']).optional() });

/** The session as `session.created` / `session.updated` report it: what the bridge checks. */
const session = z.object({
  audio: z
    .object({
      input: z.object({ format: audioFormat.optional() }).optional(),
      output: z.object({ format: audioFormat.optional() }).optional(),
    })
    .optional(),
});

const itemStatus = z.enum(['completed', 'incomplete', 'in_progress']);

/**
 * A conversation item of the kinds this bridge's sessions hold: messages (the caller's,
 * the agent's, our system notes), function calls and their outputs. `id` is required:
 * the server assigns one to every item it reports.
 */
const conversationItem = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('message'),
    id: z.string(),
    role: z.enum(['system', 'user', 'assistant']),
    status: itemStatus.optional(),
    content: z.array(
      z.object({
        type: z.enum(['input_text', 'input_audio', 'input_image', 'output_text', 'output_audio']).optional(),
        text: modelText.optional(),
        transcript: modelText.optional(),
      }),
    ),
  }),
  z.object({
    type: z.literal('function_call'),
    id: z.string(),
    status: itemStatus.optional(),
    name: z.string(),
    call_id: z.string(),
    arguments: modelText,
  }),
  z.object({ type: z.literal('function_call_output'), id: z.string(), status: itemStatus.optional(), call_id: z.string(), output: z.string() }),
]);

/** `metadata` of the client's response.create, echoed: how the response queue tells its responses from VAD's. */
const metadata = z.record(z.string(), z.string()).nullish();

const response = z.object({ id: z.string(), status: z.enum(['completed', 'cancelled', 'failed', 'incomplete', 'in_progress']).optional(), metadata });

const finishedResponse = z.object({
  id: z.string(),
  metadata,
  status: z.enum(['completed', 'cancelled', 'failed', 'incomplete']),
  status_details: z
    .object({
      type: z.enum(['completed', 'cancelled', 'incomplete', 'failed']).optional(),
      // Only informs (why a response was cut short): a reason newer than the SDK reads as
      // absent rather than losing the response.done the call path waits for.
      reason: z.enum(['turn_detected', 'client_cancelled', 'max_output_tokens', 'content_filter']).optional().catch(undefined),
      error: z.object({ type: z.string().optional(), code: z.string().optional(), message: z.string().optional() }).optional(),
    })
    .optional(),
  output: z.array(conversationItem).default([]),
  /** What the response used (tokens by kind): the call's usage and cost (CallMeter). */
  usage: z
    .object({
      input_tokens: z.number().optional(),
      output_tokens: z.number().optional(),
      input_token_details: z
        .object({
          audio_tokens: z.number().optional(),
          text_tokens: z.number().optional(),
          cached_tokens: z.number().optional(),
          cached_tokens_details: z.object({ audio_tokens: z.number().optional(), text_tokens: z.number().optional() }).optional(),
        })
        .optional(),
      output_token_details: z.object({ audio_tokens: z.number().optional(), text_tokens: z.number().optional() }).optional(),
    })
    .optional()
    // Only informs: a malformed usage must not lose the response.done the call path waits for.
    .catch(undefined),
});

/** Where a streamed part of a response belongs. */
const responsePart = { response_id: z.string(), item_id: z.string(), output_index: z.number(), content_index: z.number() };

const schemas = {
  'session.created': z.object({ type: z.literal('session.created'), session }),
  'session.updated': z.object({ type: z.literal('session.updated'), session }),
  'response.created': z.object({ type: z.literal('response.created'), response }),
  'response.done': z.object({ type: z.literal('response.done'), response: finishedResponse }),
  'response.output_item.added': z.object({ type: z.literal('response.output_item.added'), response_id: z.string(), output_index: z.number(), item: conversationItem }),
  'response.output_item.done': z.object({ type: z.literal('response.output_item.done'), response_id: z.string(), output_index: z.number(), item: conversationItem }),
  'response.output_audio.done': z.object({ type: z.literal('response.output_audio.done'), ...responsePart }),
  'response.output_audio_transcript.delta': z.object({ type: z.literal('response.output_audio_transcript.delta'), ...responsePart, delta: modelText }),
  'response.output_audio_transcript.done': z.object({ type: z.literal('response.output_audio_transcript.done'), ...responsePart, transcript: modelText }),
  'response.function_call_arguments.done': z.object({
    type: z.literal('response.function_call_arguments.done'),
    response_id: z.string(),
    item_id: z.string(),
    output_index: z.number(),
    call_id: z.string(),
    name: z.string(),
    arguments: modelText,
  }),
  'input_audio_buffer.speech_started': z.object({ type: z.literal('input_audio_buffer.speech_started'), item_id: z.string(), audio_start_ms: z.number() }),
  'input_audio_buffer.speech_stopped': z.object({ type: z.literal('input_audio_buffer.speech_stopped'), item_id: z.string(), audio_end_ms: z.number() }),
  'input_audio_buffer.committed': z.object({ type: z.literal('input_audio_buffer.committed'), item_id: z.string(), previous_item_id: z.string().nullish() }),
  'conversation.item.input_audio_transcription.delta': z.object({
    type: z.literal('conversation.item.input_audio_transcription.delta'),
    item_id: z.string(),
    content_index: z.number().optional(),
    delta: modelText.optional(),
  }),
  'conversation.item.input_audio_transcription.completed': z.object({
    type: z.literal('conversation.item.input_audio_transcription.completed'),
    item_id: z.string(),
    content_index: z.number(),
    transcript: modelText,
  }),
  'conversation.item.input_audio_transcription.failed': z.object({
    type: z.literal('conversation.item.input_audio_transcription.failed'),
    item_id: z.string(),
    content_index: z.number(),
    error: z.object({ type: z.string().optional(), code: z.string().optional(), message: z.string().optional() }),
  }),
  'conversation.item.added': z.object({ type: z.literal('conversation.item.added'), item: conversationItem, previous_item_id: z.string().nullish() }),
  'conversation.item.done': z.object({ type: z.literal('conversation.item.done'), item: conversationItem, previous_item_id: z.string().nullish() }),
  'conversation.item.truncated': z.object({ type: z.literal('conversation.item.truncated'), item_id: z.string(), content_index: z.number(), audio_end_ms: z.number() }),
  'rate_limits.updated': z.object({
    type: z.literal('rate_limits.updated'),
    rate_limits: z.array(
      z.object({ name: z.enum(['requests', 'tokens']).optional(), limit: z.number().optional(), remaining: z.number().optional(), reset_seconds: z.number().optional() }),
    ),
  }),
  error: z.object({
    type: z.literal('error'),
    error: z.object({ type: z.string(), message: z.string(), code: z.string().nullish(), param: z.string().nullish(), event_id: z.string().nullish() }),
  }),
} satisfies { [K in RealtimeServerEvent['type']]?: z.ZodType<{ type: K }> };

type SchemaType = keyof typeof schemas;
type Parsed = { [K in SchemaType]: z.infer<(typeof schemas)[K]> };

/**
 * The compile-time check: each schema's output is a view of the SDK's event of its type.
 * When one is not, `tsc` names it here ("Types of property 'response.done' are incompatible").
 */
type Conformance = { [K in SchemaType]: IsViewOf<Parsed[K], Sdk<K>> };
type EveryOneIsAView<T extends Record<SchemaType, true>> = T;
type SchemasConformToTheSdk = EveryOneIsAView<Conformance>;

/**
 * `response.output_audio.delta`, checked by hand (`isAudioDelta`) rather than by zod:
 * 10–50 arrive per second per call and each holds up to a few kB of base64, so its check
 * is on the relay's CPU budget (`npm run bench:relay`): a few typeof checks and one regex
 * test, and the parsed object passed on as it is rather than copied. The fields are still
 * the SDK's own (`Pick` fails to compile if one is renamed).
 */
export type AudioDeltaEvent = Pick<ResponseAudioDeltaEvent, 'type' | 'response_id' | 'item_id' | 'output_index' | 'content_index' | 'delta'>;

/** The server events the call path reads, each with only the fields it reads. */
export type HandledServerEvent = Parsed[SchemaType] | AudioDeltaEvent;
export type HandledServerEventType = HandledServerEvent['type'];
/** The handled event of type `K`. */
export type ServerEventOf<K extends HandledServerEventType> = Extract<HandledServerEvent, { type: K }>;

/** Types the call path knows and deliberately does not read (see the header); not counted. */
export const ignoredServerEventTypes: ReadonlySet<string> = new Set<Exclude<RealtimeServerEvent['type'], HandledServerEventType>>([
  'response.content_part.added',
  'response.content_part.done',
  'response.function_call_arguments.delta',
  'response.output_text.delta',
  'response.output_text.done',
  'input_audio_buffer.cleared',
]);

export type ServerEventParse =
  | { kind: 'event'; event: HandledServerEvent }
  | { kind: 'ignored'; type: string }
  | { kind: 'unhandled'; type: string }
  | { kind: 'invalid'; problem: 'invalid-json' | 'invalid-event'; type?: string };

// A Map, not a lookup in `schemas`: a `type` of "__proto__" or "toString" must find nothing.
const schemaByType = new Map<string, z.ZodType<HandledServerEvent>>(Object.entries(schemas));

/** Parses one server message (see the header for what each outcome means). */
export function parseServerEvent(raw: string): ServerEventParse {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return { kind: 'invalid', problem: 'invalid-json' };
  }
  if (typeof data !== 'object' || data === null) return { kind: 'invalid', problem: 'invalid-event' };
  const type = (data as { type?: unknown }).type;
  if (typeof type !== 'string') return { kind: 'invalid', problem: 'invalid-event' };
  if (type === 'response.output_audio.delta') {
    return isAudioDelta(data) ? { kind: 'event', event: data } : { kind: 'invalid', problem: 'invalid-event', type };
  }
  const schema = schemaByType.get(type);
  if (!schema) return ignoredServerEventTypes.has(type) ? { kind: 'ignored', type } : { kind: 'unhandled', type };
  const parsed = schema.safeParse(data);
  return parsed.success ? { kind: 'event', event: parsed.data } : { kind: 'invalid', problem: 'invalid-event', type };
}

/** The hand-written check of an audio delta: the fields of AudioDeltaEvent, `delta` non-empty base64. */
function isAudioDelta(data: object): data is AudioDeltaEvent {
  const event = data as Partial<Record<keyof AudioDeltaEvent, unknown>>;
  return (
    typeof event.item_id === 'string' &&
    typeof event.response_id === 'string' &&
    typeof event.output_index === 'number' &&
    typeof event.content_index === 'number' &&
    isBase64(event.delta)
  );
}
