import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { EntityManager } from '../core/db.ts';
import { describeError } from '../core/errors.ts';
import type { Services } from '../core/services.ts';
import { insertAppointment } from '../entities/appointment.repository.ts';
import { shutdownEndReason } from './agent/call-agent.ts';
import { CallContextCache, loadCallContext } from './call-context.ts';
import { twilioCallControl, type CallControl } from './twilio-line/call-control.ts';
import { callEndWriteOf, openCallRow, persistCallWrite, type CallOpenWrite } from './call-outcome.ts';
import { PendingCallWrites } from './pending-call-writes.ts';
import { RoutingCache } from './routing-cache.ts';
import { readSpilledCallWrites } from './spilled-call-writes.ts';
import { CallSession } from './session/call-session.ts';
import { PreopenedSessions } from './session/preopened-sessions.ts';
import { UsedStreamTokens, verifyStreamToken } from './twilio-line/stream-token.ts';
import { handleTwilioWebhook } from './twilio-line/twilio-webhooks.ts';

/**
 * Largest websocket message accepted from Twilio. Media frames are ~300 bytes and the start
 * message ~1 KB; anything bigger is not Twilio and closes the stream (code 1009).
 */
export const maxMediaMessageBytes = 16 * 1024;

export interface RealtimeOptions {
  /** Starts Twilio's recording of a call (REST); absent when Twilio is not configured. */
  startRecording?: (callSid: string) => Promise<void>;
  /** Acts on calls (transfer, hang up); default: Twilio's REST API when Twilio is configured. */
  callControl?: CallControl;
  /** How long an OpenAI session pre-opened by the voice webhook waits for its stream; default 15 s. */
  preopenTtlMs?: number;
}

/** The call path: Twilio webhooks, media streams and the calls they carry. */
export interface Realtime {
  /** Handles a Twilio webhook; false when `path` is not one. */
  handleHttp: (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean>;
  /** Takes over an HTTP upgrade to /twilio/media; false for other paths. */
  handleUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer, path: string) => boolean;
  /** Calls in progress on this instance. */
  activeCalls: () => number;
  /** The ids of the calls whose stream is on this instance (its heartbeat lists them). */
  heldCalls: () => string[];
  /** Calls in progress here, or answered here in the last few seconds with their stream still to come. */
  busy: () => boolean;
  /**
   * Shutdown: live calls go on, and calls still routed here are taken, until none is left
   * or `drainMs` has passed (or `endCallsNow`); then new streams and voice webhooks are
   * refused (503), every call's agent says a short goodbye or transfers the caller, and
   * every call is written. A call that has not ended within `goodbyeTimeoutMs` is cut.
   */
  close: (drainMs: number) => Promise<void>;
  /** Ends the drain now: the calls hear their goodbye (a second SIGTERM). */
  endCallsNow: () => void;
  /**
   * Start-up: writes the call ends an earlier run spilled to DATA_DIR because Postgres was
   * down at its shutdown, deleting each file once written (kept pending when it still is).
   */
  replaySpilledWrites: () => Promise<void>;
  /** Start-up: loads the routing cache calls are answered from while Postgres is unreachable (routing-cache.ts). */
  warmRoutes: () => Promise<void>;
}

/** How long the calls left at the drain's end get to say goodbye (or be transferred) before they are cut. */
const goodbyeTimeoutMs = 15_000;

/** How long after its voice webhook a call's media stream is waited for at shutdown. */
const streamArrivalMs = 10_000;

/** At shutdown, how long the call ends still waiting for Postgres get a last attempt before they are spilled. */
const finalWriteAttemptMs = 2_000;

export function createRealtime(services: Services, options: RealtimeOptions = {}): Realtime {
  const { config, logger } = services;
  const contexts = new CallContextCache();
  const usedTokens = new UsedStreamTokens();
  const sessions = new Set<CallSession>();
  const endings = new Set<Promise<void>>();
  const server = new WebSocketServer({ noServer: true, maxPayload: maxMediaMessageBytes, perMessageDeflate: false });
  /** The drain is over: no new call is taken, and the live ones are ending. */
  let closing = false;
  let cutShort = false;
  const busy = () => sessions.size > 0 || contexts.recent(streamArrivalMs) > 0;
  const callControl = options.callControl ?? twilioCallControl(config, services.metrics);
  if (!config.openai.apiKey) logger.warn('OPENAI_API_KEY is not set: calls cannot reach the voice agent');

  const openRealtime = () =>
    new WebSocket(`${config.openai.realtimeUrl}?model=${encodeURIComponent(config.openai.realtimeModel)}`, {
      headers: { Authorization: `Bearer ${config.openai.apiKey ?? ''}` },
      perMessageDeflate: false,
    });
  const preopened = new PreopenedSessions({ open: openRealtime, metrics: services.metrics, logger, ttlMs: options.preopenTtlMs });
  const pendingWrites = new PendingCallWrites({
    write: (write) => persistCallWrite(services.orm, services.queue, write, { recordingCallbackGraceSec: config.twilio.recordingCallbackGraceSec }),
    logger,
    metrics: services.metrics,
    dataDir: config.dataDir,
  });
  services.metrics.gauge('call_writes_pending', () => pendingWrites.size);
  const routes = new RoutingCache({ orm: services.orm, logger, bus: services.bus, refreshMs: config.routingCacheRefreshSec * 1000 });
  services.metrics.gauge('routing_cache_numbers', () => routes.size);
  services.metrics.gauge('active_calls', () => sessions.size);

  server.on('connection', (socket: WebSocket) => {
    const session: CallSession = new CallSession(socket, {
      logger,
      metrics: services.metrics,
      bus: services.bus,
      transcriptionModel: config.openai.inputTranscribeModel,
      pricing: { realtimeModel: config.openai.realtimeModel, prices: config.openai.prices },
      sessionMaxMs: config.openai.sessionMaxSec * 1000,
      verifyToken: (token) => verifyStreamToken(token, config.appSecret),
      claimToken: (claims) => usedTokens.claim(claims),
      loadContext: (claims) => contexts.take(claims.callSid) ?? loadCallContext(services.orm, claims),
      openRealtime: (callSid) => preopened.take(callSid) ?? { socket: openRealtime() },
      onStarted: (context) => {
        if (!context.settings.recordCalls || !options.startRecording) return undefined;
        // Refused (21220: the caller already hung up; 429, 5xx) or unreachable: the call is
        // not recorded, and its pipeline starts at its end instead of at Twilio's callback.
        return options.startRecording(context.callSid).then(
          () => true,
          (error: unknown) => {
            logger.error({ callSid: context.callSid, err: describeError(error) }, 'cannot start the call recording: the pipeline starts at the call\'s end');
            return false;
          },
        );
      },
      // Postgres unreachable: kept and retried until it is back (spilled at shutdown).
      persist: (outcome) => pendingWrites.submit(callEndWriteOf(outcome)),
      agent: {
        callControl,
        toolTimed: (tool, seconds) => services.metrics.observe('tool_run_seconds', seconds, { tool }),
        // The one write a call makes while it runs, off the audio path.
        book: async (context, slot) => {
          const book = async (em: EntityManager) => {
            // A call answered offline: its row first, if Postgres is back before its end.
            const opened = context.offline ? await openCallRow(em, context.callId, context.offline) : null;
            return insertAppointment(em, {
              businessId: context.business.id,
              leadId: opened ? opened.lead : (context.lead?.id ?? null),
              callId: opened?.id ?? context.callId,
              startsAt: slot.startsAt,
              endsAt: slot.endsAt,
              notes: slot.notes,
            });
          };
          const em = services.orm.em.fork();
          const appointment = context.offline ? await em.transactional(book) : await book(em);
          return { appointmentId: appointment.id };
        },
      },
    });
    sessions.add(session);
    socket.once('close', () => {
      const ending = session.streamEnded('close').finally(() => {
        sessions.delete(session);
        endings.delete(ending);
      });
      endings.add(ending);
    });
  });

  return {
    handleHttp(req, res, path) {
      if (closing && path === '/twilio/voice') {
        // A new call at the very end of a shutdown: Twilio tries the number's fallback URL.
        logger.warn('voice webhook refused: this instance is ending its last calls');
        res.writeHead(503, { 'retry-after': '1', 'content-length': 0 }).end();
        return Promise.resolve(true);
      }
      const openOffline = (write: CallOpenWrite) => void pendingWrites.submit(write);
      return handleTwilioWebhook({ services, contexts, preopen: (callSid) => preopened.preopen(callSid), callControl, routes, openOffline }, req, res, path);
    },
    handleUpgrade(req, socket, head, path) {
      if (path !== '/twilio/media') return false;
      if (closing) {
        socket.end('HTTP/1.1 503 Service Unavailable\r\n\r\n');
        return true;
      }
      // Every media socket holds memory and, once started, an OpenAI session: a cap keeps a
      // flood of sockets from taking the process (and the account's sessions) down.
      if (sessions.size >= config.mediaMaxSockets) {
        services.metrics.increment('media_sockets_refused_total');
        socket.end('HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n');
        return true;
      }
      server.handleUpgrade(req, socket, head, (ws) => server.emit('connection', ws, req));
      return true;
    },
    activeCalls: () => sessions.size,
    heldCalls: () => [...sessions].flatMap((session) => (session.callId ? [session.callId] : [])),
    busy,
    endCallsNow() {
      cutShort = true;
    },
    async replaySpilledWrites() {
      const { writes, unreadable } = await readSpilledCallWrites(config.dataDir);
      for (const file of unreadable) logger.error({ file }, 'a spilled call write cannot be read: left in place');
      if (writes.length > 0) logger.info({ calls: writes.length }, 'writing the call ends spilled at the last shutdown');
      for (const write of writes) await pendingWrites.submit(write, true);
    },
    warmRoutes: () => routes.start(),
    async close(drainMs) {
      if (busy()) logger.info({ calls: sessions.size, drainSec: Math.round(drainMs / 1000) }, 'shutting down: live calls may finish');
      const drainEnd = Date.now() + drainMs;
      while (busy() && !cutShort && Date.now() < drainEnd) await new Promise((resolve) => setTimeout(resolve, 50));
      closing = true;
      if (sessions.size > 0) logger.info({ calls: sessions.size, cutShort }, 'drain over: the calls left end with a goodbye');
      for (const session of sessions) session.shutDown();
      const goodbyeEnd = Date.now() + goodbyeTimeoutMs;
      while (sessions.size > 0 && Date.now() < goodbyeEnd) await new Promise((resolve) => setTimeout(resolve, 50));
      await Promise.all([...sessions].map((session) => session.end(shutdownEndReason)));
      await Promise.all([...endings]);
      await pendingWrites.close(finalWriteAttemptMs);
      await contexts.close();
      await routes.close();
      preopened.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
