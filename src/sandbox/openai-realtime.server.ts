import { createServer, STATUS_CODES, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { RealtimeErrorEvent } from 'openai/resources/realtime/realtime';
import { WebSocketServer, type WebSocket } from 'ws';
import { EventLog } from './event-log.ts';
import { openaiId } from './ids.ts';
import { REALTIME_MODELS, TRANSCRIPTION_MODELS } from './openai-realtime.models.ts';
import type { SessionScript } from './openai-realtime.script.ts';
import { StandInSession } from './openai-realtime.session.ts';
import type { Pace, ResponseBehaviourOptions } from './openai-realtime.response-behaviour.ts';

export type { AudioBurst, Pace, ResponseBehaviourOptions } from './openai-realtime.response-behaviour.ts';
export type { IncompleteReason, ScriptedFailure, ScriptedOutput, ScriptedReply, ScriptedToolCall, SessionScript } from './openai-realtime.script.ts';
export type { ResponseRequest, StandInSession, ToolOutput, TranscriptionFailure, Truncation } from './openai-realtime.session.ts';
export { REALTIME_MODELS, TRANSCRIPTION_MODELS } from './openai-realtime.models.ts';

/** Also every ResponseBehaviourOptions field: how responses are paced and how they end. */
export interface OpenAIRealtimeStandInOptions extends ResponseBehaviourOptions {
  /** When set, a connection must send `Authorization: Bearer <apiKey>` or gets 401. */
  apiKey?: string;
  /** How fast responses stream; default 'realtime' (audio in bursts at 2.5× real time, see Pace). */
  pace?: Pace;
  /** The script every new session starts with (each session can change its own). */
  script?: SessionScript;
  /** Port on 127.0.0.1; default 0 (any free port). */
  port?: number;
  /**
   * How long OpenAI takes to accept a connection (TLS, auth, session set-up) before the
   * upgrade completes; default 250 ms at `realtime` pace, 0 at `instant`.
   */
  connectDelayMs?: number;
  /** Models this stand-in refuses, as OpenAI refuses an unknown or retired one (see `refuseModel`). */
  refuseModels?: Record<string, ModelRefusal>;
  /**
   * The realtime models that exist (default REALTIME_MODELS): a connection for any other
   * is refused at the upgrade (404 `model_not_found`), and a `session.update` naming one
   * is rejected.
   */
  models?: readonly string[];
  /** The input transcription models a `session.update` may name (default TRANSCRIPTION_MODELS). */
  transcriptionModels?: readonly string[];
  /**
   * How long after a commit the caller's transcript arrives; default 300 ms at `realtime`
   * pace, 5 ms at `instant` (each session can change its own: `delayTranscription`).
   */
  transcriptionDelayMs?: number;
  /** How long a session lives before it expires (`session_expired`, close 1001); default 60 min, OpenAI's cap. */
  sessionMaxMs?: number;
}

/**
 * How a refused model is refused: `upgrade` answers the websocket upgrade with OpenAI's
 * JSON error (404 `model_not_found`); `event` accepts the connection, then sends an
 * `error` event (`invalid_request_error`, `model_not_found`) and closes the socket;
 * `silence` accepts the connection and never says or answers anything, as an overloaded
 * service may — the session never comes up in any of them.
 */
export type ModelRefusal = 'upgrade' | 'event' | 'silence';

/** A connection the stand-in refused because of its model. */
export interface RefusedConnection {
  model: string;
  how: ModelRefusal;
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
  /** From now on, accepts connections after `ms` (see `connectDelayMs`). */
  delayConnections(ms: number): void;
  /** From now on, refuses connections for `model` (see ModelRefusal). */
  refuseModel(model: string, how?: ModelRefusal): void;
  /**
   * From now on, every session — open or still to connect — rejects a `session.update`
   * naming this transcription model, as for a retired one.
   */
  rejectTranscriptionModel(model: string): void;
  /** Connections refused because of their model, in order. */
  readonly refused: readonly RefusedConnection[];
  /** Connections accepted so far (each became a session, unless refused by `event`). */
  readonly connections: number;
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
  let connectDelayMs = options.connectDelayMs ?? (pace === 'realtime' ? 250 : 0);
  const refusals = new Map<string, ModelRefusal>(Object.entries(options.refuseModels ?? {}));
  const models = new Set(options.models ?? REALTIME_MODELS);
  const transcriptionModels = new Set(options.transcriptionModels ?? TRANSCRIPTION_MODELS);
  const refused: RefusedConnection[] = [];
  const delayed = new Map<NodeJS.Timeout, Socket>();
  /** Accepted sockets of a `silence` refusal, which nothing else owns. */
  const silent = new Set<WebSocket>();
  let connections = 0;
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
    // A model OpenAI does not have is refused as it refuses one: at the upgrade.
    const refusal = refusals.get(model) ?? (models.has(model) ? undefined : 'upgrade');
    if (refusal === 'upgrade') {
      refused.push({ model, how: refusal });
      return reject(socket, 404, modelNotFound(model));
    }
    const upgrade = () =>
      wss.handleUpgrade(req, socket, head, (ws) => {
        connections++;
        if (refusal === 'silence') {
          refused.push({ model, how: refusal });
          silent.add(ws);
          ws.on('error', () => {});
          ws.once('close', () => silent.delete(ws));
          return;
        }
        if (refusal === 'event') {
          refused.push({ model, how: refusal });
          const error = modelNotFound(model).error;
          ws.send(JSON.stringify({ type: 'error', event_id: openaiId('event'), error: { ...error, event_id: null } } satisfies RealtimeErrorEvent));
          // The close code is the stand-in's guess; OpenAI documents none for this case.
          ws.close(1008, 'model_not_found');
          return;
        }
        sessions.push(
          new StandInSession(ws, {
            model,
            pace,
            script: options.script,
            models,
            transcriptionModels,
            transcriptionDelayMs: options.transcriptionDelayMs,
            sessionMaxMs: options.sessionMaxMs,
            responses: options,
          }),
        );
      });
    const accept = () => {
      if (connectDelayMs <= 0) return upgrade();
      const timer = setTimeout(() => {
        delayed.delete(timer);
        if (!socket.destroyed) upgrade();
      }, connectDelayMs);
      delayed.set(timer, socket);
    };
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
    refused,
    get connections() {
      return connections;
    },
    delayConnections(ms) {
      connectDelayMs = ms;
    },
    refuseModel(model, how = 'event') {
      refusals.set(model, how);
    },
    rejectTranscriptionModel(model) {
      transcriptionModels.delete(model);
      for (const session of sessions.items) session.rejectTranscriptionModel(model);
    },
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
      for (const [timer, socket] of delayed) {
        clearTimeout(timer);
        socket.destroy();
      }
      delayed.clear();
      for (const ws of silent) ws.terminate();
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

/** OpenAI's answer for a model that does not exist, or that this key may not use. */
function modelNotFound(model: string) {
  return openaiError(`The model \`${model}\` does not exist or you do not have access to it.`, 'model_not_found', null);
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
