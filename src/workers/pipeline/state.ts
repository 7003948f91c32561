import type { EntityManager } from '@mikro-orm/postgresql';
import { sql as raw, type Updateable } from 'kysely';
import { jsonObjectFrom } from 'kysely/helpers/postgres';
import type { Call, PipelineStep, PipelineStepState } from '../../entities/call.entity.ts';
import type { ExtractionField } from '../../entities/business-settings.entity.ts';
import { sql, type Database } from '../../entities/sql.ts';

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
  leadId: string | null;
  settings: {
    language: string;
    extractionSchema: ExtractionField[];
    inboundWebhookUrl: string | null;
    outboundWebhookUrl: string | null;
    timezone: string;
    businessName: string;
  };
  /** The first appointment booked during the call, if any. */
  appointment: { id: string; startsAt: string; endsAt: string; status: string } | null;
}

/** Columns of `calls` a step may write. */
export type CallChanges = Partial<Pick<PipelineCall, 'finalTranscript' | 'summary' | 'extractedCity' | 'extractedService' | 'extracted'>>;

/** Loads a call with its settings, business and booked appointment in one statement; null when gone. */
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
      jsonObjectFrom(
        eb
          .selectFrom('Appointment')
          .select(['Appointment.id', 'Appointment.startsAt', 'Appointment.endsAt', 'Appointment.status'])
          .whereRef('Appointment.call', '=', 'Call.id')
          .where('Appointment.status', '!=', 'canceled')
          .orderBy('Appointment.startsAt')
          .limit(1),
      ).as('appointment'),
    )
    .executeTakeFirst();
  if (!row) return null;
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
    leadId: row.lead ?? null,
    settings: {
      language: row.language,
      extractionSchema: row.extractionSchema,
      inboundWebhookUrl: row.inboundWebhookUrl ?? null,
      outboundWebhookUrl: row.outboundWebhookUrl ?? null,
      timezone: row.timezone,
      businessName: row.businessName,
    },
    appointment: (row.appointment as PipelineCall['appointment']) ?? null,
  };
}

/**
 * Records a finished step and its result on the call in one statement — only while the
 * call is still at `revision` (a `reprocessCall` meanwhile makes this run's writes moot).
 * Returns false when nothing was written.
 */
export async function recordStep(
  em: EntityManager,
  call: Pick<PipelineCall, 'id' | 'pipelineRevision'>,
  step: PipelineStep,
  state: PipelineStepState,
  changes: CallChanges & { pipelineStatus?: Call['pipelineStatus'] } = {},
  options: { dropRecording?: boolean } = {},
): Promise<boolean> {
  const set: Updateable<Database['Call']> = { ...changes, pipelineStatus: changes.pipelineStatus ?? 'running' };
  const db = sql(em);
  const update = options.dropRecording ? db.with('dropped', (cte) => cte.deleteFrom('CallRecording').where('call', '=', call.id)) : db;
  const result = await update
    .updateTable('Call')
    .set(set)
    .set({ pipelineSteps: raw`"pipeline_steps" || jsonb_build_object(${step}::text, ${JSON.stringify(state)}::jsonb)` })
    .where('id', '=', call.id)
    .where('pipelineRevision', '=', call.pipelineRevision)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}
