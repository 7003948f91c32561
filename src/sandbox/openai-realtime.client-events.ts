import { z } from 'zod';
import type { RealtimeClientEvent, RealtimeError } from 'openai/resources/realtime/realtime';

/**
 * The client side of the OpenAI Realtime GA protocol, parsed where it enters the stand-in.
 * Each schema checks what the stand-in relies on and lets every other field through, so
 * `received` keeps the event exactly as the client sent it. A message that fails becomes
 * the `error` the real API sends (`invalid_request_error`); the socket stays open.
 */

const eventId = z.string().optional();
const itemId = z.string().optional();
// The item fields the SDK types as required are required here too: a function call
// output without `call_id` is the real API's `missing_required_parameter` 'item.call_id'.
const item = z.discriminatedUnion('type', [
  z.looseObject({
    type: z.literal('message'),
    id: itemId,
    role: z.enum(['user', 'assistant', 'system']).optional(),
    content: z.array(z.looseObject({ type: z.string() })).optional(),
  }),
  z.looseObject({ type: z.literal('function_call'), id: itemId, name: z.string(), arguments: z.string(), call_id: z.string().optional() }),
  z.looseObject({ type: z.literal('function_call_output'), id: itemId, call_id: z.string(), output: z.string() }),
]);

const schemas = {
  'session.update': z.looseObject({
    type: z.literal('session.update'),
    event_id: eventId,
    session: z.looseObject({ type: z.enum(['realtime', 'transcription']) }),
  }),
  'response.create': z.looseObject({
    type: z.literal('response.create'),
    event_id: eventId,
    response: z.looseObject({ instructions: z.string().optional(), metadata: z.record(z.string(), z.string()).nullable().optional() }).optional(),
  }),
  'response.cancel': z.looseObject({
    type: z.literal('response.cancel'),
    event_id: eventId,
    response_id: z.string().optional(),
  }),
  'input_audio_buffer.append': z.looseObject({
    type: z.literal('input_audio_buffer.append'),
    event_id: eventId,
    audio: z.base64(),
  }),
  'input_audio_buffer.commit': z.looseObject({ type: z.literal('input_audio_buffer.commit'), event_id: eventId }),
  'input_audio_buffer.clear': z.looseObject({ type: z.literal('input_audio_buffer.clear'), event_id: eventId }),
  'output_audio_buffer.clear': z.looseObject({ type: z.literal('output_audio_buffer.clear'), event_id: eventId }),
  'conversation.item.create': z.looseObject({
    type: z.literal('conversation.item.create'),
    event_id: eventId,
    previous_item_id: z.string().optional(),
    item,
  }),
  'conversation.item.truncate': z.looseObject({
    type: z.literal('conversation.item.truncate'),
    event_id: eventId,
    item_id: z.string(),
    content_index: z.int().min(0),
    audio_end_ms: z.int().min(0),
  }),
  'conversation.item.delete': z.looseObject({
    type: z.literal('conversation.item.delete'),
    event_id: eventId,
    item_id: z.string(),
  }),
  'conversation.item.retrieve': z.looseObject({
    type: z.literal('conversation.item.retrieve'),
    event_id: eventId,
    item_id: z.string(),
  }),
} satisfies Record<RealtimeClientEvent['type'], z.ZodType>;

type ClientEventType = keyof typeof schemas;

/** A client event the stand-in understood; `Extract` it by `type` for one kind. */
export type ClientEvent = { [K in ClientEventType]: z.infer<(typeof schemas)[K]> }[ClientEventType];

/** The client event of one `type`. */
export type ClientEventOf<K extends ClientEvent['type']> = Extract<ClientEvent, { type: K }>;

/** What the real API puts in an `error` event: its `error` object. */
export type ClientEventError = RealtimeError & { type: 'invalid_request_error' };

/** Parses one websocket text message from a Realtime client. */
export function parseClientEvent(raw: string): { ok: true; event: ClientEvent } | { ok: false; error: ClientEventError } {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return failure('invalid_json', "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly.)", null);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return failure('invalid_type', 'Invalid type for event: expected an object.', null);
  }
  const clientEventId = 'event_id' in json && typeof json.event_id === 'string' ? json.event_id : null;
  const type = 'type' in json ? json.type : undefined;
  if (type === undefined) return failure('missing_required_parameter', "Missing required parameter: 'type'.", 'type', clientEventId);
  if (typeof type !== 'string' || !(type in schemas)) {
    const supported = Object.keys(schemas).map((name) => `'${name}'`).join(', ');
    return failure('invalid_value', `Invalid value: '${String(type)}'. Supported values are: ${supported}.`, 'type', clientEventId);
  }
  const parsed = schemas[type as ClientEventType].safeParse(json);
  if (parsed.success) return { ok: true, event: parsed.data as ClientEvent };

  const issue = parsed.error.issues[0];
  const path = issue?.path.map(String) ?? [];
  const param = path.join('.');
  if (valueAt(json, path) === undefined) {
    return failure('missing_required_parameter', `Missing required parameter: '${param}'.`, param, clientEventId);
  }
  return failure('invalid_value', `Invalid value for '${param}': ${issue?.message ?? 'invalid'}.`, param, clientEventId);
}

function failure(code: string, message: string, param: string | null, eventId: string | null = null): { ok: false; error: ClientEventError } {
  return { ok: false, error: { type: 'invalid_request_error', code, message, param, event_id: eventId } };
}

function valueAt(value: unknown, path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}
