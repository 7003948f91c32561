/**
 * The floor of `bench:relay`: the same relay as bare-relay.ts with the JSON work taken out —
 * the audio payload is cut out of each message with indexOf and pasted into the outgoing
 * message, nothing is parsed (except `start`) or re-encoded. What is left is what any relay
 * on `ws` pays per frame: websocket framing, masking, UTF-8 checks and the socket calls.
 * Not a design to copy (no validation at all); a measuring stick for what parsing costs.
 */
import { createServer } from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';

const port = Number(process.env.PORT ?? 0);
const upstreamUrl = `${process.env.OPENAI_REALTIME_URL ?? ''}?model=gpt-realtime-1.5`;
const headers = { Authorization: `Bearer ${process.env.OPENAI_API_KEY ?? ''}` };

/** The string value that follows `key` (e.g. `"payload":"`) in `raw`, or undefined. */
function valueAfter(raw: string, key: string): string | undefined {
  const start = raw.indexOf(key);
  if (start < 0) return undefined;
  const from = start + key.length;
  const end = raw.indexOf('"', from);
  return end < 0 ? undefined : raw.slice(from, end);
}

const server = createServer((req, res) => {
  res.writeHead(req.url === '/health' ? 200 : 404);
  res.end();
});
const wss = new WebSocketServer({ server, path: '/twilio/media' });

wss.on('connection', (twilio) => {
  const openai = new WebSocket(upstreamUrl, { headers });
  let prefix = '{"event":"media","streamSid":"","media":{"payload":"';
  const early: string[] = [];
  twilio.on('message', (data) => {
    const raw = data.toString();
    if (raw.startsWith('{"event":"media"')) {
      const payload = valueAfter(raw, '"payload":"');
      if (payload === undefined) return;
      const append = `{"type":"input_audio_buffer.append","audio":"${payload}"}`;
      if (openai.readyState === WebSocket.OPEN) openai.send(append);
      else early.push(append);
    } else if (raw.startsWith('{"event":"start"')) {
      prefix = `{"event":"media","streamSid":${JSON.stringify(JSON.parse(raw).start.streamSid)},"media":{"payload":"`;
    } else if (raw.startsWith('{"event":"stop"')) {
      twilio.close();
    }
  });
  openai.on('open', () => {
    for (const append of early.splice(0)) openai.send(append);
  });
  openai.on('message', (data) => {
    const raw = data.toString();
    if (!raw.startsWith('{"type":"response.output_audio.delta"')) return;
    const delta = valueAfter(raw, '"delta":"');
    if (delta !== undefined) twilio.send(`${prefix}${delta}"}}`);
  });
  const closeBoth = () => {
    for (const socket of [twilio, openai]) {
      if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
      else if (socket.readyState === WebSocket.OPEN) socket.close();
    }
  };
  twilio.on('close', closeBoth);
  openai.on('close', closeBoth);
  twilio.on('error', closeBoth);
  openai.on('error', closeBoth);
});

server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
  for (const client of wss.clients) client.terminate();
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
