import { createServer, STATUS_CODES, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import { EventLog } from './event-log.ts';
import type { Pace } from './openai-realtime.response.ts';
import type { SessionScript } from './openai-realtime.script.ts';
import { StandInSession } from './openai-realtime.session.ts';

export type { Pace } from './openai-realtime.response.ts';
export type { ScriptedReply, ScriptedToolCall, SessionScript } from './openai-realtime.script.ts';
export type { ResponseRequest, StandInSession, ToolOutput, Truncation } from './openai-realtime.session.ts';

export interface OpenAIRealtimeStandInOptions {
  /** When set, a connection must send `Authorization: Bearer <apiKey>` or gets 401. */
  apiKey?: string;
  /** How fast response audio is streamed; default 'realtime' (one 100 ms delta per 100 ms). */
  pace?: Pace;
  /** The script every new session starts with (each session can change its own). */
  script?: SessionScript;
  /** Port on 127.0.0.1; default 0 (any free port). */
  port?: number;
}

export interface OpenAIRealtimeStandIn {
  /** The websocket URL, e.g. `ws://127.0.0.1:PORT/v1/realtime`; add `?model=…` as with OpenAI. */
  readonly url: string;
  /** Every session, in connection order. */
  readonly sessions: readonly StandInSession[];
  /**
   * The next session not yet handed out, in connection order: one already connected, or
   * the next to connect. Rejects after `timeoutMs` (default 5 s).
   */
  nextSession(timeoutMs?: number): Promise<StandInSession>;
  /**
   * Holds new connections at the websocket upgrade, as a slow network or a busy OpenAI
   * would, until the returned function is called.
   */
  holdConnections(): () => void;
  /** Drops every socket and closes the server. */
  close(): Promise<void>;
}

/**
 * Starts a local stand-in for the OpenAI Realtime API (GA, websocket transport) on
 * 127.0.0.1. The upgrade is checked as OpenAI does — path `/v1/realtime`, a bearer key,
 * a `model` query parameter — and answered with OpenAI's JSON error body when it fails.
 * Audio in and out is G.711 μ-law at 8 kHz (what Callwatch asks for), whatever format the
 * session reports.
 */
export async function startOpenAIRealtimeStandIn(options: OpenAIRealtimeStandInOptions = {}): Promise<OpenAIRealtimeStandIn> {
  const pace = options.pace ?? 'realtime';
  const sessions = new EventLog<StandInSession>('OpenAI Realtime session');
  let handedOut = 0;
  const server = createServer((_req, res) => {
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(openaiError('Not found: this stand-in serves only the Realtime websocket.', 'not_found', null)));
  });
  const wss = new WebSocketServer({ noServer: true });

  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/v1/realtime') {
      return reject(socket, 404, openaiError(`Invalid URL (GET ${url.pathname})`, null, null));
    }
    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      const message = req.headers.authorization ? 'Incorrect API key provided.' : "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).";
      return reject(socket, 401, openaiError(message, req.headers.authorization ? 'invalid_api_key' : null, null));
    }
    const model = url.searchParams.get('model');
    if (!model) {
      return reject(socket, 400, openaiError("Missing required parameter: 'model'.", 'missing_required_parameter', 'model'));
    }
    const accept = () =>
      wss.handleUpgrade(req, socket, head, (ws) => {
        sessions.push(new StandInSession(ws, { model, pace, script: options.script }));
      });
    if (held) held.push({ accept, socket });
    else accept();
  });
  /** Upgrades waiting while connections are held (see `holdConnections`). */
  let held: { accept: () => void; socket: Socket }[] | undefined;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `ws://127.0.0.1:${port}/v1/realtime`,
    sessions: sessions.items,
    holdConnections() {
      held ??= [];
      return () => {
        const waiting = held ?? [];
        held = undefined;
        for (const { accept } of waiting) accept();
      };
    },
    nextSession(timeoutMs = 5_000) {
      const index = handedOut++;
      return sessions.waitFor((session) => sessions.items.indexOf(session) === index, timeoutMs);
    },
    async close() {
      // A test may close the stand-in mid-call (OpenAI gone); the owner's close after that is a no-op.
      if (!server.listening) return;
      for (const { socket } of held ?? []) socket.destroy();
      held = undefined;
      sessions.close('stand-in closed');
      for (const session of sessions.items) session.drop();
      await Promise.all(sessions.items.map((session) => session.closed));
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}

/** The JSON body OpenAI answers a failed request with. */
function openaiError(message: string, code: string | null, param: string | null) {
  return { error: { message, type: 'invalid_request_error', param, code } };
}

/** Refuses a websocket upgrade with a plain HTTP response, as a server in front of OpenAI does. */
function reject(socket: Socket, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      'Content-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(json)}\r\n` +
      'Connection: close\r\n\r\n' +
      json,
  );
}
