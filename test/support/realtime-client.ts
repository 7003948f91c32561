import { once } from 'node:events';
import type { RealtimeServerEvent } from 'openai/resources/realtime/realtime';
import WebSocket from 'ws';
import { EventLog } from '../../src/sandbox/event-log.ts';
import type { OpenAIRealtimeStandIn } from '../../src/sandbox/openai-realtime.server.ts';

/** The key the stand-ins in the sandbox tests are started with. */
export const standInApiKey = 'sk-test-standin';

type Of<K extends RealtimeServerEvent['type']> = Extract<RealtimeServerEvent, { type: K }>;

/**
 * A bare `ws` client speaking the Realtime protocol, as any OpenAI client would, connected
 * to `standIn` once it has announced the session (`session.created`, still in `events`).
 */
export async function realtimeClient(standIn: OpenAIRealtimeStandIn, options: { model?: string } = {}) {
  const model = options.model ?? 'gpt-realtime';
  const socket = new WebSocket(`${standIn.url}?model=${encodeURIComponent(model)}`, { headers: { Authorization: `Bearer ${standInApiKey}` } });
  const events = new EventLog<RealtimeServerEvent>('server event');
  socket.on('message', (data) => events.push(JSON.parse(String(data)) as RealtimeServerEvent));
  await once(socket, 'open');
  const session = await standIn.nextSession();
  await events.waitFor((event) => event.type === 'session.created');
  return {
    socket,
    session,
    events,
    /** An object is sent as JSON; a string as it is (for malformed-input tests). */
    send: (event: object | string) => socket.send(typeof event === 'string' ? event : JSON.stringify(event)),
    next: <K extends RealtimeServerEvent['type']>(type: K, after = 0) => events.waitFor((event): event is Of<K> => event.type === type, 5_000, { after }),
    ofType: <K extends RealtimeServerEvent['type']>(type: K) => events.items.filter((event): event is Of<K> => event.type === type),
    types: (after = 0) => events.items.slice(after).map((event) => event.type),
    close: async () => {
      socket.close();
      if (socket.readyState !== WebSocket.CLOSED) await once(socket, 'close');
    },
  };
}

/** Opens a websocket that must be refused; returns the HTTP status and OpenAI's JSON error body. */
export async function refusedUpgrade(url: string, headers: Record<string, string> = { Authorization: `Bearer ${standInApiKey}` }) {
  const socket = new WebSocket(url, { headers });
  socket.on('error', () => {});
  const [request, response] = (await once(socket, 'unexpected-response')) as [{ destroy(): void }, NodeJS.ReadableStream & { statusCode: number }];
  let body = '';
  for await (const chunk of response) body += String(chunk);
  request.destroy();
  return { status: response.statusCode, body: JSON.parse(body) as { error: { message: string; type: string; code: string | null; param: string | null } } };
}

/** Streams audio the way Callwatch forwards Twilio frames: 20 ms per append. */
export function appendAudio(client: { send: (event: object) => void }, audio: Buffer): void {
  for (let offset = 0; offset < audio.length; offset += 160) {
    client.send({ type: 'input_audio_buffer.append', audio: audio.subarray(offset, offset + 160).toString('base64') });
  }
}
