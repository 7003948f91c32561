import type { PipelineCall } from './state.ts';
import { realtimeTranscript } from './step.ts';

/**
 * The `call.completed` webhook body (snake_case). Keys are always present; what the
 * pipeline could not produce is null — never a guessed value. `call_id` is Twilio's call
 * SID (what telephony-aware CRMs key on); `callwatch_call_id` is Callwatch's own id.
 */
export function callCompletedPayload(call: PipelineCall, at: Date): Record<string, unknown> {
  const steps = call.pipelineSteps;
  const fromRecording = steps.transcribe?.status === 'done' && call.finalTranscript !== null;
  // No recording, or one in which nobody was heard: the realtime transcript stands in, as it
  // did for the summary and extraction (callText). A failed transcription leaves it null.
  const fromRealtime = !fromRecording && steps.transcribe !== undefined && steps.transcribe.status !== 'failed' ? realtimeTranscript(call) : null;
  const errors = Object.fromEntries(Object.entries(steps).flatMap(([step, state]) => (state?.status === 'failed' ? [[step, state.error ?? 'failed']] : [])));
  return {
    event_type: 'call.completed',
    timestamp: at.toISOString(),
    business_id: call.businessId,
    call_id: call.callSid,
    callwatch_call_id: call.id,
    lead_id: call.leadId,
    // The other party: who called in, or who was called.
    phone: call.direction === 'inbound' ? call.fromNumber : call.toNumber,
    direction: call.direction,
    status: call.status,
    started_at: call.startedAt?.toISOString() ?? null,
    ended_at: call.endedAt?.toISOString() ?? null,
    duration_sec: call.durationSec,
    recording_url: call.recordingUrl,
    city: call.extractedCity,
    service_category: call.extractedService,
    summary: call.summary,
    transcript: fromRecording ? call.finalTranscript : fromRealtime,
    transcript_source: fromRecording ? 'recording' : fromRealtime !== null ? 'realtime' : null,
    extracted: call.extracted,
    appointment: call.appointment
      ? { id: call.appointment.id, starts_at: call.appointment.startsAt.toISOString(), ends_at: call.appointment.endsAt.toISOString(), status: call.appointment.status }
      : null,
    revision: call.pipelineRevision,
    errors,
    // How long the caller waited and what the call cost (README "Latency and cost"); null when not measured.
    latency: call.latency ? snakeCaseKeys(call.latency) : null,
    usage: call.usage ? snakeCaseKeys(call.usage) : null,
  };
}

/** `{ turnP50Ms: 1 }` → `{ turn_p50_ms: 1 }`, nested objects too: the webhook's keys are snake_case. */
function snakeCaseKeys(value: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [
      key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase(),
      inner !== null && typeof inner === 'object' && !Array.isArray(inner) ? snakeCaseKeys(inner as object) : inner,
    ]),
  );
}
