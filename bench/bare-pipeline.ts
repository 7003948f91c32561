/**
 * The baseline of `bench:pipeline`: the same outside work as Callwatch's post-call pipeline
 * with no durability at all — no Postgres, no queue, nothing recorded, no retries. On each
 * signed Twilio recording callback (POST /twilio/recording) it answers 204, then in memory:
 * downloads the WAV from the Twilio REST stand-in (fetch, Basic auth), transcribes it,
 * asks for a summary and for the structured fields (the official `openai` SDK, the same
 * requests Callwatch makes), and POSTs one Standard-Webhooks-signed `call.completed` to the
 * receiver. Run as a child process by the benchmark, so its CPU is measured alone; its
 * environment names the stand-ins, the receiver and the secret. GET /health answers once it
 * listens; SIGTERM stops it. Failures are written to stderr and the webhook is not sent.
 */
import { createServer, type IncomingMessage } from 'node:http';
import OpenAI, { toFile } from 'openai';
import twilio from 'twilio';
import { jsonSchema } from '../src/workers/pipeline/extract.ts';
import { signatureHeaders } from '../src/workers/webhooks/sign.ts';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`bare-pipeline: ${name} is not set`);
  return value;
};
const port = Number(process.env.PORT ?? 0);
const publicUrl = env('PUBLIC_URL');
const accountSid = env('TWILIO_ACCOUNT_SID');
const authToken = env('TWILIO_AUTH_TOKEN');
const twilioApiUrl = env('TWILIO_API_URL');
const webhookUrl = env('WEBHOOK_URL');
const webhookSecret = env('WEBHOOK_SECRET');
const businessId = env('BUSINESS_ID');
const openai = new OpenAI({ apiKey: env('OPENAI_API_KEY'), baseURL: env('OPENAI_BASE_URL'), maxRetries: 2, timeout: 120_000 });
const basicAuth = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`;
const schema = jsonSchema([
  { name: 'budget_nis', description: 'The budget the caller mentioned, in shekels', type: 'number' },
  { name: 'urgent', description: 'Whether the caller said it is urgent', type: 'boolean' },
]);
let webhookIds = 0;

async function processCall(callSid: string, recordingSid: string): Promise<void> {
  const download = await fetch(`${twilioApiUrl}/2010-04-01/Accounts/${accountSid}/Recordings/${recordingSid}.wav`, { headers: { authorization: basicAuth } });
  if (!download.ok) throw new Error(`download answered ${download.status}`);
  const audio = Buffer.from(await download.arrayBuffer());
  const file = await toFile(audio, 'recording.wav', { type: download.headers.get('content-type') ?? 'audio/x-wav' });
  const transcript = (await openai.audio.transcriptions.create({ file, model: 'gpt-transcribe', language: 'he', response_format: 'json' })).text.trim();
  const summary = await openai.responses.create({
    model: 'gpt-5.4-mini',
    store: false,
    instructions: 'You summarise phone calls between callers and the AI receptionist of a business.\nWrite the summary in Hebrew, in two to four sentences.',
    input: `Transcript of an inbound call:\n${transcript}`,
  });
  const fields = await openai.responses.create({
    model: 'gpt-5.4-mini',
    store: false,
    instructions: 'Extract facts from this phone call transcript into the JSON schema.\nUse null for anything the transcript does not state explicitly. Never guess.',
    input: transcript,
    text: { format: { type: 'json_schema', name: 'call_fields', strict: true, schema } },
  });
  const extracted = JSON.parse(fields.output_text) as { city: string | null; service_category: string | null; fields: Record<string, unknown> };
  const at = new Date();
  const body = JSON.stringify({
    event_type: 'call.completed',
    timestamp: at.toISOString(),
    business_id: businessId,
    call_id: callSid,
    direction: 'inbound',
    city: extracted.city,
    service_category: extracted.service_category,
    summary: summary.output_text.trim(),
    transcript,
    extracted: extracted.fields,
  });
  const webhookId = `msg_bare${String(++webhookIds).padStart(24, '0')}`;
  const response = await fetch(webhookUrl, {
    method: 'POST',
    headers: { ...signatureHeaders(webhookSecret, webhookId, body, at), 'content-type': 'application/json' },
    body,
  });
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`receiver answered ${response.status}`);
}

async function readForm(req: IncomingMessage): Promise<Record<string, string>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
}

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/health') return void res.writeHead(200).end();
  if (req.method !== 'POST' || req.url !== '/twilio/recording') return void res.writeHead(404).end();
  readForm(req).then(
    (params) => {
      const signature = req.headers['x-twilio-signature'];
      if (typeof signature !== 'string' || !twilio.validateRequest(authToken, signature, `${publicUrl}${req.url}`, params)) return void res.writeHead(403).end();
      res.writeHead(204).end();
      const { CallSid: callSid, RecordingSid: recordingSid, RecordingStatus: status } = params;
      if (status !== 'completed' || !callSid || !recordingSid) return;
      processCall(callSid, recordingSid).catch((error: unknown) => process.stderr.write(`bare-pipeline: ${callSid}: ${error instanceof Error ? error.message : String(error)}\n`));
    },
    () => res.writeHead(400).end(),
  );
});
server.listen(port, '127.0.0.1');
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
