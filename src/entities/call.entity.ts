import { randomUUID } from 'node:crypto';
import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import type { CallEvent, TranscriptTurn } from '../core/events.ts';
import type { CallLatency, CallUsage } from '../core/call-usage.ts';
import { Business } from './business.entity.ts';
import { Lead } from './lead.entity.ts';
import { OutboundCallJob } from './outbound-call-job.entity.ts';

export type { TranscriptTurn };

export const callDirections = ['inbound', 'outbound'] as const;
export type CallDirection = (typeof callDirections)[number];

/** Twilio's call statuses (https://www.twilio.com/docs/voice/api/call-resource#call-status-values). */
export const callStatuses = [
  'queued',
  'initiated',
  'ringing',
  'in-progress',
  'completed',
  'busy',
  'no-answer',
  'failed',
  'canceled',
] as const;
export type CallStatus = (typeof callStatuses)[number];

export const pipelineStatuses = ['pending', 'running', 'completed', 'failed'] as const;
export type PipelineStatus = (typeof pipelineStatuses)[number];

export const pipelineSteps = ['download', 'transcribe', 'summarize', 'extract', 'deliver'] as const;
export type PipelineStep = (typeof pipelineSteps)[number];

export const pipelineStepOutcomes = ['done', 'skipped', 'failed'] as const;

export interface PipelineStepState {
  status: (typeof pipelineStepOutcomes)[number];
  at: string;
  /** Why the step failed. */
  error?: string;
  /** Why the step had nothing to do. */
  reason?: string;
}

/**
 * What text search over calls looks at (call.repository.ts). The trigram index below is on
 * exactly this expression; a query on anything else would not use it.
 */
export const callSearchExpression = `coalesce("summary", '') || ' ' || coalesce("final_transcript", '') || ' ' || "transcript_turns"::text`;

/**
 * The call log: one row per Twilio call, filled in during and after the call. Every write
 * and every status rule (what may follow what, what is final) is in call-record.ts.
 */
export const Call = defineEntity({
  name: 'Call',
  tableName: 'calls',
  properties: {
    id: p.uuid().primary().onCreate(() => randomUUID()),
    business: () => p.manyToOne(Business).deleteRule('cascade'),
    lead: () => p.manyToOne(Lead).nullable().deleteRule('set null').index(),
    callSid: p.string().length(34).unique(),
    direction: p.enum(callDirections),
    fromNumber: p.string().length(32),
    toNumber: p.string().length(32),
    status: p.enum(callStatuses).default('initiated'),
    startedAt: p.datetime().nullable(),
    endedAt: p.datetime().nullable(),
    durationSec: p.integer().nullable(),
    recordingSid: p.string().length(34).nullable(),
    recordingUrl: p.text().nullable(),
    /**
     * When the recording was deleted (at Twilio and here: sid, URL and downloaded audio gone),
     * by the retention job or a lead's erasure. Null while it is kept, or there never was one.
     */
    recordingDeletedAt: p.datetime().nullable(),
    /**
     * When the transcript, summary, extracted fields and timeline were cleared (retention or
     * erasure). The call's anonymous facts — times, duration, status, end reason — stay.
     */
    contentDeletedAt: p.datetime().nullable(),
    transcriptTurns: p.json<TranscriptTurn[]>().onCreate(() => []),
    /** What the agent did during the call: tools, reprompts, hand-overs, failures (AgentEvent). */
    timeline: p.json<CallEvent[]>().onCreate(() => []),
    /** Why the call ended, as the call session saw it (e.g. "caller hung up", "transferred"; README lists them). */
    endReason: p.text().nullable(),
    finalTranscript: p.text().nullable(),
    summary: p.text().nullable(),
    extractedCity: p.string().nullable(),
    extractedService: p.string().nullable(),
    /** Fields of the business's extraction schema; a missing value is null, never guessed. */
    extracted: p.json<Record<string, unknown>>().nullable(),
    /** How long the caller waited for the agent (greeting, turns), written with the call's end; null before that, or for a call no session ended. */
    latency: p.json<CallLatency>().nullable(),
    /** What the call used of OpenAI and its estimated cost: the session's part at the end, the pipeline's added when it finishes. */
    usage: p.json<CallUsage>().nullable(),
    pipelineStatus: p.enum(pipelineStatuses).default('pending'),
    /** Bumped by `reprocessCall`: each revision's results go out as a webhook of their own. */
    pipelineRevision: p.integer().default(0),
    pipelineSteps: p.json<Partial<Record<PipelineStep, PipelineStepState>>>().onCreate(() => ({})),
    outboundJob: () => p.manyToOne(OutboundCallJob).nullable().deleteRule('set null').index(),
    /** Twilio answering-machine detection on an outbound call: human, machine_start, fax, … */
    answeredBy: p.string().length(32).nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
  indexes: [
    { properties: ['business', 'createdAt'], name: 'calls_business_created_at_index' },
    // Text search (call.repository.ts) — a trigram index on exactly the searched expression.
    // The migration that creates it keeps its own frozen copy; the schema-drift test
    // fails if the two ever differ.
    {
      name: 'calls_search_trgm_index',
      expression: `create index "calls_search_trgm_index" on "calls" using gin ((${callSearchExpression}) gin_trgm_ops)`,
    },
  ],
});
export type Call = InferEntity<typeof Call>;
