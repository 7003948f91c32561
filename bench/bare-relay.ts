/**
 * The baseline of `bench:relay`: the relay anyone would write first with `ws` alone. It
 * accepts Twilio's media stream on /twilio/media, opens the OpenAI Realtime socket at
 * once, and forwards audio both ways with a JSON.parse and a JSON.stringify per frame —
 * no database, no token, no validation, no events, nothing else. Run as a child process
 * by the benchmark (PORT, OPENAI_REALTIME_URL, OPENAI_API_KEY), so its CPU and memory can
 * be measured alone; GET /health answers once it listens, SIGTERM stops it.
 */
import { createServer } from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';

const port = Number(process.env.PORT ?? 0);
const upstreamUrl = `${process.env.OPENAI_REALTIME_URL ?? ''}?model=gpt-realtime-1.5`;
const headers = { Authorization: `Bearer ${process.env.OPENAI_API_KEY ?? ''}` };

const server = createServer((req, res) => {
  res.writeHead(req.url === '/health' ? 200 : 404);
  res.end();
});
const wss = new WebSocketServer({ server, path: '/twilio/media' });

wss.on('connection', (twilio) => {
  const openai = new WebSocket(upstreamUrl, { headers });
  let streamSid: string | undefined;
  const early: string[] = [];
  // Deliberately naive, as the baseline: unchecked JSON in, re-encoded JSON out.
  twilio.on('message', (data) => {
    const message = JSON.parse(data.toString());
    if (message.event === 'start') streamSid = message.start.streamSid;
    if (message.event === 'stop') twilio.close();
    if (message.event !== 'media') return;
    const append = JSON.stringify({ type: 'input_audio_buffer.append', audio: message.media.payload });
    if (openai.readyState === WebSocket.OPEN) openai.send(append);
    else early.push(append);
  });
  openai.on('open', () => {
    for (const append of early.splice(0)) openai.send(append);
  });
  openai.on('message', (data) => {
    const event = JSON.parse(data.toString());
    if (event.type === 'response.output_audio.delta') twilio.send(JSON.stringify({ event: 'media', streamSid, media: { payload: event.delta } }));
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
