import type { RequiredEntityData } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql as raw, type QueryCreator, type RawBuilder, type Updateable } from 'kysely';
import { Call, callStatuses, type CallStatus, type PipelineStep, type PipelineStepState } from './call.entity.ts';
import { sql, type Database, type Row } from './sql.ts';

/**
 * The one owner of the `calls` row: every write to it, and every rule about its status,
 * is here (test/unit/call-record-owner.test.ts fails if another file writes the table).
 *
 * The rules, which each write below enforces inside its own single SQL statement, so that
 * they hold however writers on different instances interleave:
 * - Status moves forward only: queued → initiated → ringing → in-progress → a final status.
 *   Twilio's callbacks may arrive out of order: one reporting an earlier status than the
 *   row's (a late `ringing` after the voice webhook answered, or after `completed`) is ignored.
 * - A final status (completed, busy, no-answer, failed, canceled) is final, with one
 *   exception: the session's `failed` (the voice agent was lost) replaces `completed`, which
 *   is all Twilio knows (the line was up).
 * - A call is ended by Callwatch once: the first end (`endCall`) writes the end reason,
 *   start and end times, duration, transcript, timeline, latency and usage; a later end
 *   changes nothing.
 *   Twilio's final status callback fills in the end time and duration only where no end has
 *   written them; a Callwatch end that comes after it replaces them with its own.
 * - A call that has ended (final status or an end time) is never reopened by a voice request.
 * - A call whose instance died (it stopped beating, or never took the call's stream) is
 *   closed by the lost calls sweep (`closeLostCall`) as another first end: only while no
 *   end has been written, with Twilio's end time and duration.
 */

/** Statuses of a call still on the line (not yet written, not to be reprocessed or acted on as finished). */
export const liveCallStatuses = ['queued', 'initiated', 'ringing', 'in-progress'] as const satisfies readonly CallStatus[];

/** Statuses after which Twilio reports nothing more for the call. */
export const finalCallStatuses = ['completed', 'busy', 'no-answer', 'failed', 'canceled'] as const satisfies readonly CallStatus[];

export function isLiveCall(status: CallStatus): boolean {
  return (liveCallStatuses as readonly CallStatus[]).includes(status);
}

export function isFinalStatus(status: CallStatus): boolean {
  return !isLiveCall(status);
}

/** Whether the call is over: a final status, or an end time written. */
export function hasEnded(call: { status: CallStatus; endedAt?: Date | null }): boolean {
  return isFinalStatus(call.status) || (call.endedAt !== null && call.endedAt !== undefined);
}

/** Where each status sits in a call's life; every final status is last. */
const stage: Record<CallStatus, number> = { queued: 0, initiated: 1, ringing: 2, 'in-progress': 3, completed: 4, busy: 4, 'no-answer': 4, failed: 4, canceled: 4 };

/** Whether a call at `current` may move to `next` (see the rules above). Same status: false (nothing to change). */
export function mayFollow(current: CallStatus, next: CallStatus): boolean {
  if (isLiveCall(current)) return stage[next] > stage[current];
  return current === 'completed' && next === 'failed';
}

/** The statuses a call may be at for `next` to follow. */
export function statusesBefore(next: CallStatus): CallStatus[] {
  return callStatuses.filter((current) => mayFollow(current, next));
}

/**
 * SQL for the status once `next` is reported: `next` where the rules allow it, else the
 * row's own. `column` names the row's status (qualified in an upsert's update).
 */
function followedBy(next: CallStatus, column: 'status' | 'Call.status' = 'status'): RawBuilder<CallStatus> {
  const before = statusesBefore(next);
  if (before.length === 0) return raw<CallStatus>`${raw.ref(column)}`;
  return raw<CallStatus>`case when ${raw.ref(column)} in (${raw.join(before)}) then ${next} else ${raw.ref(column)} end`;
}

/** A call the voice webhook connects: who it belongs to. */
export interface OpenedCall {
  id: string;
  lead: string | null;
  outboundJob: string | null;
}

/**
 * An inbound call arrived at the voice webhook: its row, written as `in-progress` (Twilio
 * runs the <Connect> at once; the call path writes nothing more until the call ends), or
 * an earlier row of the same call moved on to it. Null when that call has ended (a replayed
 * signed voice request): it is not reopened. One statement.
 */
export async function openInboundCall(
  em: EntityManager,
  call: { business: string; lead: string | null; callSid: string; fromNumber: string; toNumber: string },
): Promise<OpenedCall | null> {
  const row = await sql(em)
    .insertInto('Call')
    .values({ ...call, direction: 'inbound', status: 'in-progress' })
    .onConflict((oc) =>
      oc
        .column('callSid')
        .doUpdateSet({ status: followedBy('in-progress', 'Call.status') })
        .where('Call.status', 'not in', finalCallStatuses)
        .where('Call.endedAt', 'is', null),
    )
    .returning(['id', 'lead', 'outboundJob'])
    .executeTakeFirst();
  return row ? { id: row.id, lead: row.lead ?? null, outboundJob: row.outboundJob ?? null } : null;
}

/**
 * A call the dialer placed was answered (the voice webhook): its row `in-progress` with
 * AMD's verdict if it came with the request — written here if Twilio was quicker than the
 * dialer's own write. Null when the call has ended (a replayed signed voice request).
 */
export async function openOutboundCall(
  em: EntityManager,
  call: { business: string; lead: string | null; outboundJob: string; callSid: string; fromNumber: string; toNumber: string; answeredBy: string | null },
): Promise<{ id: string } | null> {
  const row = await sql(em)
    .insertInto('Call')
    .values({ ...call, direction: 'outbound', status: 'in-progress' })
    .onConflict((oc) =>
      oc
        .column('callSid')
        // A verdict the AMD callback stored first is kept when this request carries none.
        .doUpdateSet({ status: followedBy('in-progress', 'Call.status'), answeredBy: raw<string | null>`coalesce(${call.answeredBy}::text, ${raw.ref('Call.answeredBy')})` })
        .where('Call.status', 'not in', finalCallStatuses)
        .where('Call.endedAt', 'is', null),
    )
    .returning('id')
    .executeTakeFirst();
  return row ?? null;
}

/**
 * The row of an inbound call answered while Postgres was unreachable (from the routing
 * cache), written once it is back: with the id the call has used since the voice webhook,
 * created when the call arrived, `in-progress` (its end, written next, moves it on). When
 * the row exists already — the voice webhook's own write did reach Postgres before the
 * connection failed — that row is the call's: its id and lead are returned, and the caller
 * writes the end to it. Two statements; idempotent.
 */
export async function openOfflineCall(
  em: EntityManager,
  call: { id: string; business: string; lead: string | null; callSid: string; fromNumber: string; toNumber: string; createdAt: Date },
): Promise<OpenedCall> {
  await sql(em)
    .insertInto('Call')
    .values({ ...call, direction: 'inbound', status: 'in-progress' })
    .onConflict((oc) => oc.column('callSid').doNothing())
    .execute();
  const row = await sql(em).selectFrom('Call').select(['id', 'lead', 'outboundJob']).where('callSid', '=', call.callSid).executeTakeFirstOrThrow();
  return { id: row.id, lead: row.lead ?? null, outboundJob: row.outboundJob ?? null };
}

/** Twilio accepted a call the dialer placed: its row, `queued`, unless the voice webhook wrote it first. */
export async function insertPlacedCall(
  em: EntityManager,
  call: { business: string; lead: string | null; outboundJob: string; callSid: string; fromNumber: string; toNumber: string },
): Promise<void> {
  await sql(em)
    .insertInto('Call')
    .values({ ...call, direction: 'outbound', status: 'queued' })
    .onConflict((oc) => oc.column('callSid').doNothing())
    .execute();
}

/** What Twilio's final status callback says about the end, used only where no end was written. */
export interface TwilioEnd {
  /** When Twilio sent the callback. */
  endedAt: Date;
  /** Twilio's CallDuration, when it sent one. */
  durationSec: number | null;
}

/**
 * Twilio's status callback reported `status` for `callSid`: applied by the rules (a status
 * out of order is ignored; a final one also fills in the end time and duration where none
 * is written). Returns the call with its status as stored afterwards, or null when the
 * call is unknown (or, for a live status, left unchanged). One statement.
 */
export async function reportTwilioStatus(
  em: EntityManager,
  callSid: string,
  status: CallStatus,
  end: TwilioEnd,
): Promise<{ id: string; callSid: string; business: string; status: CallStatus } | null> {
  const final = isFinalStatus(status);
  const before = statusesBefore(status);
  // Nothing comes before `queued`: reported late, it changes nothing.
  if (!final && before.length === 0) return null;
  let update = sql(em)
    .updateTable('Call')
    .set(
      final
        ? {
            status: followedBy(status),
            endedAt: raw<Date>`coalesce(${raw.ref('endedAt')}, ${end.endedAt})`,
            ...(end.durationSec !== null ? { durationSec: raw<number>`coalesce(${raw.ref('durationSec')}, ${end.durationSec})` } : {}),
          }
        : { status },
    )
    .where('callSid', '=', callSid);
  // A live status only moves a call on; nothing is written when it would not.
  if (!final) update = update.where('status', 'in', before);
  const row = await update.returning(['id', 'callSid', 'business', 'status']).executeTakeFirst();
  return row ?? null;
}

/** How the call session saw the call end. */
export interface CallEnd {
  /** `failed` when the voice agent was lost. */
  status: 'completed' | 'failed';
  reason: string;
  startedAt: Date;
  endedAt: Date;
  durationSec: number;
  turns: Call['transcriptTurns'];
  timeline: Call['timeline'];
  /** How long the caller waited (null: not measured). */
  latency?: Call['latency'];
  /** What the call used and cost; the pipeline adds its part later (`pipelineWrite`). */
  usage?: Call['usage'];
}

/**
 * Ends the call as Callwatch saw it — the first end only: true when this one was written,
 * false when another end (another writer, a repeat) got there first. One statement.
 */
export async function endCall(em: EntityManager, callId: string, end: CallEnd): Promise<boolean> {
  const result = await sql(em)
    .updateTable('Call')
    .set({
      status: followedBy(end.status),
      startedAt: end.startedAt,
      endedAt: end.endedAt,
      durationSec: end.durationSec,
      transcriptTurns: end.turns,
      timeline: end.timeline,
      latency: end.latency ?? null,
      usage: end.usage ?? null,
      endReason: end.reason,
    })
    .where('id', '=', callId)
    .where('endReason', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Why a call whose instance died was closed by the lost calls sweep. */
export const lostCallEndReason = 'lost: process ended';

/** What Twilio says of the end of a call whose instance died. */
export interface LostEnd {
  /** Twilio's final status (completed when Callwatch hung the call up itself). */
  status: CallStatus;
  /** Twilio's start time, used where no start was written. */
  startedAt: Date | null;
  endedAt: Date;
  durationSec: number | null;
}

/**
 * Closes a call no session will end (its instance died) with Twilio's end and the reason
 * `lost: process ended` — a first end, like `endCall`: only while no end reason is written,
 * so a session's own end or an earlier sweep wins. Twilio's end time replaces one its status
 * callback wrote; the status moves on by the rules. The call as closed, or null when another
 * end came first. One statement.
 */
export async function closeLostCall(
  em: EntityManager,
  callId: string,
  end: LostEnd,
): Promise<{ id: string; callSid: string; business: string; status: CallStatus; durationSec: number | null } | null> {
  const status = isFinalStatus(end.status) ? end.status : 'completed';
  const row = await sql(em)
    .updateTable('Call')
    .set({
      status: followedBy(status),
      startedAt: raw<Date>`coalesce(${raw.ref('startedAt')}, ${end.startedAt ?? end.endedAt})`,
      endedAt: end.endedAt,
      durationSec: end.durationSec !== null ? end.durationSec : raw<number>`${raw.ref('durationSec')}`,
      endReason: lostCallEndReason,
    })
    .where('id', '=', callId)
    .where('endReason', 'is', null)
    .returning(['id', 'callSid', 'business', 'status', 'durationSec'])
    .executeTakeFirst();
  return row ? { ...row, durationSec: row.durationSec ?? null } : null;
}

/** Records AMD's verdict on the call; null when Callwatch does not know the call. */
export async function noteAnsweredBy(em: EntityManager, callSid: string, answeredBy: string): Promise<{ id: string; business: string } | null> {
  const row = await sql(em).updateTable('Call').set({ answeredBy }).where('callSid', '=', callSid).returning(['id', 'business']).executeTakeFirst();
  return row ?? null;
}

/** Stores the call's recording (Twilio's sid and URL); the call's id, or null when unknown. */
export async function storeRecording(em: EntityManager, call: { callSid: string } | { id: string }, recording: { sid: string; url: string | null }): Promise<string | null> {
  const update = sql(em).updateTable('Call').set({ recordingSid: recording.sid, recordingUrl: recording.url });
  const where = 'id' in call ? update.where('id', '=', call.id) : update.where('callSid', '=', call.callSid);
  const row = await where.returning('id').executeTakeFirst();
  return row?.id ?? null;
}

/** Forgets the call's recording here (its sid and URL), noting when. */
export async function forgetRecording(em: EntityManager, callId: string): Promise<void> {
  await sql(em).updateTable('Call').set({ recordingSid: null, recordingUrl: null, recordingDeletedAt: new Date() }).where('id', '=', callId).execute();
}

/**
 * Clears what was said and learnt in the calls (transcripts, summary, extracted fields,
 * timeline; with `extractedCategories` the extracted city and service too), noting when.
 * The anonymous facts stay: times, duration, direction, status, end reason.
 */
export async function clearContent(em: EntityManager, callIds: readonly string[], options: { extractedCategories?: boolean } = {}): Promise<void> {
  if (callIds.length === 0) return;
  await sql(em)
    .updateTable('Call')
    .set({
      transcriptTurns: [],
      timeline: [],
      finalTranscript: null,
      summary: null,
      extracted: null,
      ...(options.extractedCategories ? { extractedCity: null, extractedService: null } : {}),
      contentDeletedAt: new Date(),
    })
    .where('id', 'in', callIds)
    .execute();
}

/**
 * A person is erased: their calls are linked to their lead (so a repeat finds them after
 * the number is gone) and the person's number — the caller's on an inbound call, the
 * called one on an outbound call — becomes `placeholder`. One statement.
 */
export async function replacePersonsNumber(em: EntityManager, callIds: readonly string[], leadId: string, placeholder: string): Promise<void> {
  if (callIds.length === 0) return;
  await sql(em)
    .updateTable('Call')
    .set({
      lead: leadId,
      fromNumber: raw<string>`case when ${raw.ref('direction')} = 'inbound' then ${placeholder} else ${raw.ref('fromNumber')} end`,
      toNumber: raw<string>`case when ${raw.ref('direction')} = 'outbound' then ${placeholder} else ${raw.ref('toNumber')} end`,
    })
    .where('id', 'in', callIds)
    .execute();
}

/**
 * A new revision of a finished call's pipeline: the revision bumped, its steps cleared.
 * Null when the call is not the business's, still live, or its content was deleted.
 */
export async function reopenPipeline(em: EntityManager, businessId: string, callId: string): Promise<Row<Call> | null> {
  const row = await sql(em)
    .updateTable('Call')
    .set((eb) => ({ pipelineRevision: eb('pipelineRevision', '+', 1), pipelineStatus: 'pending', pipelineSteps: {} }))
    .where('id', '=', callId)
    .where('business', '=', businessId)
    .where('status', 'not in', liveCallStatuses)
    // Retention or erasure cleared what the pipeline works from: running it again would only send an empty webhook.
    .where('contentDeletedAt', 'is', null)
    .returningAll()
    .executeTakeFirst();
  return (row as Row<Call> | undefined) ?? null;
}

/** The columns of `calls` a pipeline step writes besides its own state. */
export type PipelineWrite = Pick<Updateable<Database['Call']>, 'finalTranscript' | 'summary' | 'extractedCity' | 'extractedService' | 'extracted' | 'pipelineStatus' | 'usage'>;

/**
 * The pipeline's write of one finished step — its state among the call's steps and its
 * result — as a statement for `db` (a query creator, so the pipeline can wrap it in common
 * table expressions); it writes only while the call is still at `pipelineRevision`: a
 * `reprocessCall` meanwhile makes an older run's writes moot.
 */
export function pipelineWrite<DB extends Database>(
  db: QueryCreator<DB>,
  call: { id: string; pipelineRevision: number },
  step: PipelineStep,
  state: PipelineStepState,
  changes: PipelineWrite,
) {
  const steps = raw<Call['pipelineSteps']>`${raw.ref('pipelineSteps')} || jsonb_build_object(${step}::text, ${JSON.stringify(state)}::jsonb)`;
  return (db as unknown as QueryCreator<Database>)
    .updateTable('Call')
    .set(changes)
    .set({ pipelineSteps: steps })
    .where('id', '=', call.id)
    .where('pipelineRevision', '=', call.pipelineRevision);
}

/** A finished call written whole, for demo data. */
export function createFinishedCall(em: EntityManager, data: RequiredEntityData<Call>): Call {
  return em.create(Call, data);
}
