import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import twilio from 'twilio';
import { describeError } from '../../core/errors.ts';
import { normalizePhone } from '../../core/phone.ts';
import type { Services } from '../../core/services.ts';
import { callStatuses, type CallStatus } from '../../entities/call.entity.ts';
import { openInboundCall, openOutboundCall, reportTwilioStatus, storeRecording, type TwilioEnd } from '../../entities/call-record.ts';
import { isMachine, settleOutboundStatus } from '../../dialer/twilio-status.ts';
import { findOrCreateLead } from '../../entities/lead.repository.ts';
import { findBusinessByNumber } from '../../entities/phone-number.repository.ts';
import { isConnectionError } from '../../entities/postgres-errors.ts';
import { sql } from '../../entities/sql.ts';
import { buildCallContext, type CallContext, type CallContextCache } from '../call-context.ts';
import { enqueuePipeline, reconcileJobId } from '../../core/jobs.ts';
import type { CallOpenWrite } from '../call-outcome.ts';
import type { RoutingCache } from '../routing-cache.ts';
import { tracingEnabled } from '../../core/tracing.ts';
import { handleAmdVerdict } from './answering-machine.ts';
import { technicalApology, type CallControl } from './call-control.ts';
import { sayVoice } from './say-voice.ts';
import { signStreamToken, type CallRef } from './stream-token.ts';

/**
 * Twilio's HTTP webhooks: the voice webhook that connects a call to the agent, and the
 * status, answering-machine detection and recording callbacks. Every request must carry a valid X-Twilio-Signature for
 * PUBLIC_URL + path: anything else gets 403 and nothing is read or written.
 */

const maxBodyBytes = 64 * 1024;

/** Said (in Hebrew) to callers of a number no business owns, before hanging up. */
const unknownNumberMessage = 'המספר שחייגת אינו פעיל. תודה ולהתראות.';

export interface TwilioWebhookDeps {
  services: Services;
  contexts: CallContextCache;
  /** Opens the call's OpenAI Realtime session while Twilio connects its stream. */
  preopen: (callSid: string) => void;
  /** Ends a call a machine answered when no session holds it; undefined without Twilio credentials. */
  callControl: CallControl | undefined;
  /** Routes and settings to answer inbound calls from while Postgres is unreachable. */
  routes: RoutingCache;
  /** Keeps the row of a call answered offline until Postgres is back (PendingCallWrites). */
  openOffline: (write: CallOpenWrite) => void;
}

/** Handles POST /twilio/voice, /twilio/status, /twilio/amd and /twilio/recording; false for other paths. */
export async function handleTwilioWebhook(deps: TwilioWebhookDeps, req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
  const handler = { '/twilio/voice': voice, '/twilio/status': status, '/twilio/amd': amd, '/twilio/recording': recording }[path];
  if (!handler) return false;
  const { services } = deps;
  if (req.method !== 'POST') return reply(res, 405, 'text/plain', 'method not allowed'), true;
  let params: Record<string, string> | undefined;
  try {
    params = uniqueParams(new URLSearchParams(await readBody(req)));
  } catch {
    return reply(res, 413, 'text/plain', 'body too large'), true;
  }
  if (!params) {
    services.metrics.increment('twilio_webhook_rejected_total');
    services.logger.warn({ path }, 'twilio webhook rejected: a parameter name is repeated');
    return reply(res, 403, 'text/plain', 'repeated parameter'), true;
  }
  if (!isSigned(services, req, params)) {
    services.metrics.increment('twilio_webhook_rejected_total');
    services.logger.warn({ path }, 'twilio webhook rejected: missing or invalid signature');
    return reply(res, 403, 'text/plain', 'invalid signature'), true;
  }
  try {
    await handler(deps, params, res, new URL(req.url ?? '/', 'http://callwatch').searchParams);
  } catch (error) {
    services.logger.error({ path, err: describeError(error) }, 'twilio webhook failed');
    if (res.headersSent) return true;
    // A caller is on the line: a 500 would play Twilio's "application error". They hear a
    // short apology instead (in Hebrew, the first customers' language: which business was
    // called may be what could not be read) — e.g. while the database is unreachable.
    if (path === '/twilio/voice') {
      services.metrics.increment('twilio_voice_failed_total');
      return apologyReply(res), true;
    }
    reply(res, 500, 'text/plain', 'internal error');
  }
  return true;
}

/**
 * The body's parameters, or undefined when a name is repeated. Twilio never repeats one
 * in a webhook; a repeat would make the signed object ambiguous (which value counts), so
 * such a request is refused, not read (security review F8).
 */
function uniqueParams(body: URLSearchParams): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (const [name, value] of body) {
    if (Object.hasOwn(params, name)) return undefined;
    params[name] = value;
  }
  return params;
}

function isSigned(services: Services, req: IncomingMessage, params: Record<string, string>): boolean {
  const token = services.config.twilio.authToken;
  const signature = req.headers['x-twilio-signature'];
  if (!token || typeof signature !== 'string') return false;
  return twilio.validateRequest(token, signature, `${services.config.publicUrl}${req.url ?? ''}`, params);
}

/**
 * A call arrived: route it to its business, record it, and connect its audio to the agent.
 * An inbound call the database cannot route (unreachable) is answered from the routing
 * cache when it knows the number; otherwise the failure reaches handleTwilioWebhook, and the
 * caller hears an apology.
 */
async function voice(deps: TwilioWebhookDeps, params: Record<string, string>, res: ServerResponse, query: URLSearchParams): Promise<void> {
  if (params.Direction?.startsWith('outbound')) return outboundVoice(deps, params, res, query.get('outboundJob'));
  try {
    await inboundVoice(deps, params, res);
  } catch (error) {
    if (res.headersSent || !isConnectionError(error) || !answerOffline(deps, params, res)) throw error;
  }
}

async function inboundVoice(deps: TwilioWebhookDeps, params: Record<string, string>, res: ServerResponse): Promise<void> {
  const { services } = deps;
  const callSid = params.CallSid ?? '';
  const to = normalizePhone(params.To ?? '');
  const em = services.orm.em.fork();
  const settings = to ? await findBusinessByNumber(em, to) : null;
  const log = services.logger.child({ callSid });
  if (!settings || !callSid) {
    log.warn({ pii: { to: params.To } }, 'call to a number no business owns');
    const response = new twilio.twiml.VoiceResponse();
    response.say(sayVoice('he'), unknownNumberMessage);
    response.hangup();
    return reply(res, 200, 'text/xml', response.toString());
  }

  const businessId = settings.business.id;
  const from = normalizePhone(params.From ?? '');
  const lead = from ? await findOrCreateLead(em, businessId, from) : null;
  const call = await openInboundCall(em, { business: businessId, lead: lead?.id ?? null, callSid, fromNumber: params.From ?? '', toNumber: params.To ?? '' });
  if (!call) {
    // A replayed signed voice request for a call that is over: no stream token, no OpenAI session.
    log.warn('voice request for a call that already ended: hanging up');
    return hangUpReply(res);
  }

  const claims = { callSid, callId: call.id, businessId, leadId: call.lead, outboundJobId: call.outboundJob };
  connectToAgent(deps, claims, res);
  log.info({ direction: 'inbound' }, 'call connected to the agent');
}

/**
 * Postgres is unreachable: answers an inbound call to a number the routing cache knows.
 * The call gets its id here; its context is built from the cache (no lead yet: who calls is
 * looked up when the row is written), and its row is kept by PendingCallWrites until
 * Postgres is back — its end queues behind it. False when the cache does not know the number.
 */
function answerOffline(deps: TwilioWebhookDeps, params: Record<string, string>, res: ServerResponse): boolean {
  const { services, routes } = deps;
  const callSid = params.CallSid ?? '';
  const routed = callSid ? routes.lookup(normalizePhone(params.To ?? '') ?? '') : undefined;
  if (!routed) return false;
  const callId = randomUUID();
  const businessId = routed.business.id;
  const offline = { businessId, callSid, fromNumber: params.From ?? '', toNumber: params.To ?? '', leadPhone: normalizePhone(params.From ?? '') ?? null, arrivedAt: new Date() };
  const claims = { callSid, callId, businessId, leadId: null, outboundJobId: null };
  const rows = { ...routed, call: { id: callId, callSid, direction: 'inbound' as const }, lead: null, job: null };
  deps.openOffline({ kind: 'open', callId, open: offline });
  connectToAgent(deps, claims, res, { ...buildCallContext(claims, rows), offline });
  services.metrics.increment('twilio_voice_offline_total');
  services.logger.warn({ callSid, callId }, 'the database is unreachable: call answered from the routing cache, its row written when Postgres is back');
  return true;
}

/**
 * Pre-warms the call's context (or holds the one given), opens its OpenAI session (a
 * Twilio-signed call: Twilio connects the stream meanwhile, so the greeting need not wait
 * for OpenAI's set-up), and answers with the TwiML that streams the call to the agent.
 */
function connectToAgent({ services, contexts, preopen }: TwilioWebhookDeps, claims: CallRef, res: ServerResponse, context?: CallContext): void {
  if (context) contexts.put(context);
  else contexts.prewarm(services.orm, claims);
  preopen(claims.callSid);
  const response = new twilio.twiml.VoiceResponse();
  const stream = response.connect().stream({ url: mediaStreamUrl(services.config.publicUrl) });
  stream.parameter({ name: 'token', value: signStreamToken(claims, services.config.appSecret) });
  reply(res, 200, 'text/xml', response.toString());
}

/**
 * A call the dialer placed was answered (its voice URL names the job): it is connected to
 * the agent at once, which loads the job's purpose and the lead with the rest of the
 * context. The dialer asks for asynchronous AMD, so the verdict comes later (`amd`); a
 * voice request that already carries one (synchronous AMD, a call placed before that) hangs
 * up on a machine, and the attempt counts as no answer.
 */
async function outboundVoice(deps: TwilioWebhookDeps, params: Record<string, string>, res: ServerResponse, jobId: string | null): Promise<void> {
  const { services } = deps;
  const callSid = params.CallSid ?? '';
  const log = services.logger.child({ callSid });
  const em = services.orm.em.fork();
  const job = jobId && isUuid(jobId) ? await sql(em).selectFrom('OutboundCallJob').select(['id', 'business', 'lead']).where('id', '=', jobId).executeTakeFirst() : undefined;
  const hangUp = () => hangUpReply(res);
  if (!job || !callSid) {
    log.warn({ jobId }, 'outbound call Callwatch did not place: hanging up');
    return hangUp();
  }
  const answeredBy = params.AnsweredBy ?? null;
  // The dialer writes the call when Twilio accepts it; Twilio may be quicker.
  // A call that already ended (a replayed signed voice request) is not revived: no row back, no token.
  const call = await openOutboundCall(em, { business: job.business, lead: job.lead, outboundJob: job.id, callSid, fromNumber: params.From ?? '', toNumber: params.To ?? '', answeredBy });
  if (!call) {
    log.warn({ jobId }, 'voice request for an outbound call that already ended: hanging up');
    return hangUp();
  }
  if (isMachine(answeredBy)) {
    log.info({ answeredBy }, 'outbound call reached a machine: hanging up');
    return hangUp();
  }
  connectToAgent(deps, { callSid, callId: call.id, businessId: job.business, leadId: job.lead, outboundJobId: job.id }, res);
  log.info({ direction: 'outbound' }, 'call connected to the agent');
}

/** Twilio's asynchronous answering-machine detection verdict (AsyncAmdStatusCallback): see answering-machine.ts. */
async function amd({ services, callControl }: TwilioWebhookDeps, params: Record<string, string>, res: ServerResponse): Promise<void> {
  if (params.CallSid && params.AnsweredBy) await handleAmdVerdict(services, callControl, params.CallSid, params.AnsweredBy);
  reply(res, 204, 'text/plain', '');
}

/**
 * Twilio's call status callback: the call row's status by the rules of call-record.ts (a
 * callback out of order changes nothing; a final one brings the end time and duration where
 * no end wrote them), and for a call the dialer placed (its URL names the job) move the job on.
 */
async function status({ services }: TwilioWebhookDeps, params: Record<string, string>, res: ServerResponse, query: URLSearchParams): Promise<void> {
  const callStatus = asCallStatus(params.CallStatus);
  const jobId = query.get('outboundJob');
  if (params.CallSid && callStatus && jobId && isUuid(jobId)) await settleOutboundStatus(services, jobId, params.CallSid, callStatus, params.AnsweredBy ?? null);
  if (params.CallSid && callStatus) {
    const call = await reportTwilioStatus(services.orm.em.fork(), params.CallSid, callStatus, twilioEnd(params));
    // Only a status the call now has is news; an ignored one (out of order) is not.
    if (call?.status === callStatus) {
      const event = { type: 'call.status' as const, callId: call.id, callSid: call.callSid, status: callStatus, at: new Date().toISOString() };
      services.bus.publish('call:events', call.id, event);
      services.bus.publish('business:calls', call.business, event);
    }
  }
  reply(res, 204, 'text/plain', '');
}

/**
 * When the call ended and how long it lasted, as a status callback says: Twilio's
 * `Timestamp` is when it sent the callback, `CallDuration` comes with a final status.
 */
function twilioEnd(params: Record<string, string>): TwilioEnd {
  const duration = Number.parseInt(params.CallDuration ?? '', 10);
  const sentAt = params.Timestamp ? new Date(params.Timestamp) : new Date();
  return { endedAt: Number.isNaN(sentAt.getTime()) ? new Date() : sentAt, durationSec: Number.isFinite(duration) && duration >= 0 ? duration : null };
}

/**
 * Twilio's recording status callback. `completed`: start the post-call pipeline and store
 * the recording, in one transaction. `absent` / `failed` (nothing usable was recorded):
 * start the pipeline anyway — it falls back to the realtime transcript. The pipeline job's
 * id is the call's: once it exists (an earlier callback, or the recording safety net after
 * a lost one), a callback changes nothing — neither a second run nor the recording the
 * pipeline works on.
 */
async function recording({ services }: TwilioWebhookDeps, params: Record<string, string>, res: ServerResponse): Promise<void> {
  const { CallSid: callSid, RecordingSid: recordingSid, RecordingUrl: recordingUrl, RecordingStatus: recordingStatus } = params;
  const finished = recordingStatus === 'completed' || recordingStatus === 'absent' || recordingStatus === 'failed';
  if (callSid && finished) {
    try {
      await services.orm.em.fork().transactional(async (em) => {
        // The call's row is locked first (by the update, or the select), then the job is
        // inserted: the recording safety net takes them in the same order, so the two never
        // deadlock, and the job insert decides which of them started the pipeline.
        const stores = recordingStatus === 'completed' && recordingSid;
        const callId = stores
          ? await storeRecording(em, { callSid }, { sid: recordingSid, url: recordingUrl ?? null })
          : (await sql(em).selectFrom('Call').select('id').where('callSid', '=', callSid).forUpdate().executeTakeFirst())?.id;
        if (!callId) return;
        // The call's trace, as its end sent it with the safety net (only looked up when tracing is on).
        const traceparent = tracingEnabled() ? await services.queue.traceparentOf('recording.reconcile', reconcileJobId(callId)) : undefined;
        const enqueued = await enqueuePipeline(services.queue, callId, em, { traceparent });
        // Started already (an earlier callback, or the safety net): the recording it works on stays.
        if (enqueued === null && stores) throw new PipelineAlreadyStarted();
      });
    } catch (error) {
      if (!(error instanceof PipelineAlreadyStarted)) throw error;
    }
  }
  reply(res, 204, 'text/plain', '');
}

/** Rolls back a late recording callback's write: the pipeline had already started. */
class PipelineAlreadyStarted extends Error {}

function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}

/** wss://…/twilio/media for an https PUBLIC_URL, ws://… for http (local development). */
export function mediaStreamUrl(publicUrl: string): string {
  return `${publicUrl.replace(/^http/, 'ws')}/twilio/media`;
}

function apologyReply(res: ServerResponse): void {
  const response = new twilio.twiml.VoiceResponse();
  response.say(sayVoice('he'), technicalApology('he'));
  response.hangup();
  reply(res, 200, 'text/xml', response.toString());
}

function hangUpReply(res: ServerResponse): void {
  const response = new twilio.twiml.VoiceResponse();
  response.hangup();
  reply(res, 200, 'text/xml', response.toString());
}

function asCallStatus(value: string | undefined): CallStatus | undefined {
  return callStatuses.find((status) => status === value);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBodyBytes) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function reply(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': `${contentType}; charset=utf-8`, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
