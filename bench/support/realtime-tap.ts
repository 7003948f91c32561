import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { StandInSession } from '../../src/sandbox/openai-realtime.session.ts';

/** One OpenAI Realtime connection: the sandbox's stand-in session, plus a tap on what arrives. */
export interface TappedSession {
  session: StandInSession;
  /** Called with the audio of each `input_audio_buffer.append`, on arrival, before the stand-in handles it. */
  onAppend: (audio: string) => void;
}

export interface RealtimeTap {
  /** `ws://127.0.0.1:PORT/v1/realtime`, for OPENAI_REALTIME_URL. */
  url: string;
  /** The next connection, in connection order; rejects after `timeoutMs`. */
  nextConnection(timeoutMs?: number): Promise<TappedSession>;
  close(): Promise<void>;
}

/**
 * The OpenAI side of the relay benchmark: each connection is served by the sandbox's
 * StandInSession (session.created, session.update, the greeting — the real protocol), on
 * a server of the benchmark's own so it can see each client message the moment it
 * arrives. The upgrade is checked as the stand-in checks it (path, bearer key, model).
 */
export async function startRealtimeTap(options: { apiKey: string }): Promise<RealtimeTap> {
  const ready: TappedSession[] = [];
  const waiting: ((session: TappedSession) => void)[] = [];
  const sockets = new Set<WebSocket>();
  const server = createServer((_req, res) => {
    res.writeHead(404);
    res.end();
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const refuse = (status: number) => socket.end(`HTTP/1.1 ${status} Refused\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    if (url.pathname !== '/v1/realtime') return refuse(404);
    if (req.headers.authorization !== `Bearer ${options.apiKey}`) return refuse(401);
    const model = url.searchParams.get('model');
    if (!model) return refuse(400);
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.once('close', () => sockets.delete(ws));
      const tapped: TappedSession = { session: undefined as unknown as StandInSession, onAppend: () => {} };
      // Registered before the stand-in's own listener, so the arrival time excludes its work.
      ws.on('message', (data) => {
        const event = JSON.parse(data.toString()) as { type?: unknown; audio?: unknown };
        if (event.type === 'input_audio_buffer.append' && typeof event.audio === 'string') tapped.onAppend(event.audio);
      });
      tapped.session = new StandInSession(ws, { model, pace: 'instant' });
      const waiter = waiting.shift();
      if (waiter) waiter(tapped);
      else ready.push(tapped);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `ws://127.0.0.1:${port}/v1/realtime`,
    nextConnection(timeoutMs = 5_000) {
      const first = ready.shift();
      if (first) return Promise.resolve(first);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.splice(waiting.indexOf(take), 1);
          reject(new Error(`no OpenAI connection within ${timeoutMs} ms`));
        }, timeoutMs);
        const take = (session: TappedSession) => {
          clearTimeout(timer);
          resolve(session);
        };
        waiting.push(take);
      });
    },
    async close() {
      for (const socket of sockets) socket.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
