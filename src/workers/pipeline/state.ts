import type { EntityManager } from '@mikro-orm/postgresql';
import { Appointment } from '../../entities/appointment.entity.ts';
import type { Call, PipelineStep, PipelineStepState } from '../../entities/call.entity.ts';
import type { ExtractionField } from '../../entities/business-settings.entity.ts';
import { pipelineWrite, type PipelineWrite } from '../../entities/call-record.ts';
import { jsonRowFrom, rowFromJson, sql, type Row } from '../../entities/sql.ts';

/** What the pipeline knows about one call: the call row and what its steps need from around it. */
export interface PipelineCall {
  id: string;
  businessId: string;
  callSid: string;
  direction: Call['direction'];
  status: Call['status'];
  fromNumber: string;
  toNumber: string;
  startedAt: Date | null;
  endedAt: Date | null;
  durationSec: number | null;
  recordingSid: string | null;
  recordingUrl: string | null;
  transcriptTurns: Call['transcriptTurns'];
  finalTranscript: string | null;
  summary: string | null;
  extractedCity: string | null;
  extractedService: string | null;
  extracted: Record<string, unknown> | null;
  pipelineRevision: number;
  pipelineSteps: Call['pipelineSteps'];
  /** How long the caller waited (written with the call's end; null before, or when no session ended the call). */
  latency: Call['latency'];
  /** What the call used; the pipeline's steps add theirs. */
  usage: Call['usage'];
  leadId: string | null;
  /** A downloaded recording is stored (`call_recordings`), waiting for the transcription step. */
  recordingStored: boolean;
  settings: {
    language: string;
    extractionSchema: ExtractionField[];
    inboundWebhookUrl: string | null;
    outboundWebhookUrl: string | null;
    timezone: string;
    businessName: string;
  };
  /** The first appointment booked during the call, if any. */
  appointment: Pick<Row<Appointment>, 'id' | 'startsAt' | 'endsAt' | 'status'> | null;
}

/** Columns of `calls` a step may write. */
export type CallChanges = Partial<Pick<PipelineCall, 'finalTranscript' | 'summary' | 'extractedCity' | 'extractedService' | 'extracted'>>;

/**
 * Loads a call with its settings, business, booked appointment and whether its recording
 * is stored, in one statement; null when gone.
 */
export async function loadPipelineCall(em: EntityManager, callId: string): Promise<PipelineCall | null> {
  const row = await sql(em)
    .selectFrom('Call')
    .innerJoin('BusinessSettings', 'BusinessSettings.business', 'Call.business')
    .innerJoin('Business', 'Business.id', 'Call.business')
    .where('Call.id', '=', callId)
    .selectAll('Call')
    .select([
      'BusinessSettings.language',
      'BusinessSettings.extractionSchema',
      'BusinessSettings.inboundWebhookUrl',
      'BusinessSettings.outboundWebhookUrl',
      'Business.timezone',
      'Business.name as businessName',
    ])
    .select((eb) =>
      jsonRowFrom(
        eb
          .selectFrom('Appointment')
          .select(['Appointment.id', 'Appointment.startsAt', 'Appointment.endsAt', 'Appointment.status'])
          .whereRef('Appointment.call', '=', 'Call.id')
          .where('Appointment.status', '!=', 'canceled')
          .orderBy('Appointment.startsAt')
          .limit(1),
      ).as('appointment'),
    )
    .select((eb) => eb.exists(eb.selectFrom('CallRecording').select('CallRecording.call').whereRef('CallRecording.call', '=', 'Call.id')).as('recordingStored'))
    .executeTakeFirst();
  if (!row) return null;
  const appointment = row.appointment ? rowFromJson(em, Appointment, row.appointment) : null;
  return {
    id: row.id,
    businessId: row.business,
    callSid: row.callSid,
    direction: row.direction,
    status: row.status,
    fromNumber: row.fromNumber,
    toNumber: row.toNumber,
    startedAt: row.startedAt ?? null,
    endedAt: row.endedAt ?? null,
    durationSec: row.durationSec ?? null,
    recordingSid: row.recordingSid ?? null,
    recordingUrl: row.recordingUrl ?? null,
    transcriptTurns: row.transcriptTurns,
    finalTranscript: row.finalTranscript ?? null,
    summary: row.summary ?? null,
    extractedCity: row.extractedCity ?? null,
    extractedService: row.extractedService ?? null,
    extracted: row.extracted ?? null,
    pipelineRevision: row.pipelineRevision,
    pipelineSteps: row.pipelineSteps,
    latency: row.latency ?? null,
    usage: row.usage ?? null,
    leadId: row.lead ?? null,
    recordingStored: Boolean(row.recordingStored),
    settings: {
      language: row.language,
      extractionSchema: row.extractionSchema,
      inboundWebhookUrl: row.inboundWebhookUrl ?? null,
      outboundWebhookUrl: row.outboundWebhookUrl ?? null,
      timezone: row.timezone,
      businessName: row.businessName,
    },
    appointment: appointment && { id: appointment.id, startsAt: appointment.startsAt, endsAt: appointment.endsAt, status: appointment.status },
  };
}

/** A recording as the download step fetched it. */
export interface Recording {
  audio: Buffer;
  contentType: string;
}

/** A lead's city and service category, filled in where the lead has none. */
export interface LeadFill {
  leadId: string;
  city: string | null;
  service: string | null;
}

/**
 * Records a finished step and its result on the call in one statement — only while the
 * call is still at `revision` (a `reprocessCall` meanwhile makes this run's writes moot).
 * Returns false when nothing was written. In the same statement, `storeRecording` stores
 * the downloaded recording for the transcription step (whatever the revision, as a
 * download step that wrote it first would have), `dropRecording` deletes it, and
 * `fillLead` fills in the lead's city and service where it has none — only if the step was
 * recorded.
 */
export async function recordStep(
  em: EntityManager,
  call: Pick<PipelineCall, 'id' | 'pipelineRevision'>,
  step: PipelineStep,
  state: PipelineStepState,
  changes: CallChanges & { pipelineStatus?: Call['pipelineStatus']; usage?: Call['usage'] } = {},
  options: { dropRecording?: boolean; storeRecording?: Recording; fillLead?: LeadFill } = {},
): Promise<boolean> {
  const set: PipelineWrite = { ...changes, pipelineStatus: changes.pipelineStatus ?? 'running' };
  const db = sql(em);
  const { storeRecording: stored, fillLead: fill } = options;
  if (fill) {
    const rows = await db
      .with('recorded', (cte) => pipelineWrite(cte, call, step, state, set).returning('id'))
      .with('filled', (cte) =>
        cte
          .updateTable('Lead')
          .set((eb) => ({ city: eb.fn.coalesce('city', eb.val(fill.city)), serviceCategory: eb.fn.coalesce('serviceCategory', eb.val(fill.service)) }))
          .where('id', '=', fill.leadId)
          .where((eb) => eb.exists(eb.selectFrom('recorded').select('recorded.id'))),
      )
      .selectFrom('recorded')
      .select('recorded.id')
      .execute();
    return rows.length > 0;
  }
  const update = options.dropRecording
    ? db.with('dropped', (cte) => cte.deleteFrom('CallRecording').where('call', '=', call.id))
    : stored
      ? db.with('stored', (cte) =>
          cte
            .insertInto('CallRecording')
            .values({ call: call.id, contentType: stored.contentType, audio: stored.audio, downloadedAt: new Date() })
            .onConflict((conflict) => conflict.column('call').doUpdateSet({ contentType: stored.contentType, audio: stored.audio, downloadedAt: new Date() })),
        )
      : db;
  const result = await pipelineWrite(update, call, step, state, set).executeTakeFirst();
  return result.numUpdatedRows > 0n;
}
