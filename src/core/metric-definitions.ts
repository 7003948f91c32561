/**
 * What Callwatch measures: every metric's name (without the `callwatch_` prefix every one
 * of them gets), its HELP text and, for histograms, its buckets. Metrics (metrics.ts)
 * registers them; the README's metrics table describes the same set.
 */

/** Plain counters: one number each, counted by `Metrics.increment`. */
export const counterHelp = {
  twilio_webhook_rejected_total: 'Twilio webhooks refused for a missing or wrong X-Twilio-Signature.',
  twilio_voice_failed_total: 'Voice webhooks that failed inside (the database unreachable…): the caller heard an apology.',
  twilio_voice_offline_total: 'Inbound calls answered from the routing cache while Postgres was unreachable.',
  media_invalid_json_total: 'Media stream messages that were not JSON (ignored).',
  media_unknown_event_total: 'Media stream messages of an event type Twilio does not send (ignored).',
  media_before_start_total: 'Media frames that arrived before the stream start message (ignored).',
  media_invalid_payload_total: 'Media stream messages whose fields were not what Twilio sends (ignored).',
  media_oversized_frame_total: 'Media stream messages over the frame size limit (the socket was closed).',
  media_duplicate_start_total: 'Second start messages on one media stream (ignored).',
  media_bad_token_total: 'Media streams refused for a missing, forged or expired stream token.',
  media_token_reused_total: 'Media streams refused because their (valid) stream token had already opened one.',
  media_start_timeout_total: 'Media sockets closed for sending no start message in time.',
  media_sockets_refused_total: 'Media sockets refused at the MEDIA_MAX_SOCKETS limit.',
  media_buffered_frames_total: 'Caller audio frames held while the OpenAI session was being configured.',
  media_buffer_overflow_total: 'Caller audio frames dropped because the buffer before the OpenAI session was full.',
  media_gap_filled_total: "Gaps in a call's inbound timestamps (audio lost on the way) filled with silence for OpenAI.",
  media_rate_exceeded_total: 'Media streams closed for sending more frames than Twilio does (FrameBudget).',
  openai_invalid_event_total: 'OpenAI Realtime server events that could not be parsed (ignored).',
  openai_error_event_total: 'OpenAI Realtime error events, all codes (by code: callwatch_openai_error_event_by_code_total).',
  openai_transcription_failed_total: "Failed transcriptions of the caller's speech during calls.",
  realtime_preopened_total: 'OpenAI sessions opened by the voice webhook ahead of the media stream.',
  realtime_preopened_used_total: 'Pre-opened OpenAI sessions a media stream took.',
  realtime_preopened_unused_total: 'Pre-opened OpenAI sessions closed because no stream took them in time.',
  realtime_session_failed_total: 'OpenAI Realtime sessions that failed to open or broke during a call.',
  realtime_session_rollovers_total: 'Calls moved to a fresh OpenAI session before the session time limit.',
  call_handler_errors_total: 'Unexpected errors inside a call session (the call was ended cleanly).',
  calls_started_total: 'Calls whose media stream started.',
  calls_ended_total: 'Calls that ended (their media stream closed).',
  frames_to_openai_total: 'Caller audio frames relayed to OpenAI.',
  frames_to_twilio_total: 'Agent audio frames relayed to Twilio.',
  pipeline_runs_total: 'Post-call pipeline job attempts (retries count again).',
  pipeline_steps_failed_total: 'Post-call pipeline steps that failed for good (their error is on the call).',
  recording_callbacks_missed_total: 'Recorded calls whose recording callback never came: the safety net started their pipeline.',
  webhook_attempts_total: 'Webhook delivery attempts (POSTs, or destinations refused before one).',
  webhook_delivered_total: 'Webhook deliveries that ended delivered (2xx).',
  webhook_failed_total: 'Webhook deliveries that ended failed (4xx other than 408/429, or a refused destination).',
  webhook_dead_total: 'Webhook deliveries given up when the retry window ended.',
  webhook_refused_total: 'Webhook attempts refused before the POST (destination not allowed).',
  subscription_audio_dropped_total: 'Listen-in audio chunks dropped for a slow subscriber.',
  subscription_slow_disconnected_total: 'GraphQL subscribers disconnected for falling too far behind (close code 1013).',
  subscriptions_revoked_closed_total: 'graphql-ws sockets (4403) and SSE streams ended because their API key was revoked.',
  bus_publish_failures_total: 'Event bus publishes that failed (Redis unreachable).',
  graphql_request_too_large_total: 'GraphQL requests or graphql-ws messages refused for their size.',
  http_connections_refused_total: 'Connections the HTTP server closed at once for being over HTTP_MAX_CONNECTIONS.',
  metrics_unauthorized_total: '/metrics requests without the METRICS_TOKEN.',
  graphql_document_too_large_total: 'GraphQL documents refused for their length or token count.',
  audit_log_write_failed_total: 'Audit log entries that could not be written (the mutation itself went through).',
  call_writes_retried_total: "Attempts to write a call's end again after Postgres was unreachable (PendingCallWrites).",
  call_writes_spilled_total: 'Call ends still unwritten at shutdown, spilled to DATA_DIR/pending-call-writes.',
  call_writes_replayed_total: 'Spilled call ends written at a later start.',
  call_writes_refused_total: 'Call ends the database refused (not a connection error): logged, not retried.',
} as const satisfies Record<string, string>;
export type CounterName = keyof typeof counterHelp;
export const counterNames = Object.keys(counterHelp) as CounterName[];

/**
 * Counters with one label, each with its label's name and HELP: counted per value of
 * something that varies (an event type, an error code).
 */
export const labeledCounters = {
  openai_unhandled_event_total: { label: 'type', help: 'OpenAI Realtime server events of a type Callwatch does not handle, by type.' },
  openai_response_failed_total: { label: 'code', help: 'OpenAI Realtime responses that ended failed, by error code.' },
  openai_error_event_by_code_total: { label: 'code', help: 'OpenAI Realtime error events, by error code (or type when there is none).' },
  openai_rest_errors_total: { label: 'status', help: 'OpenAI REST requests of the post-call pipeline that failed, by HTTP status (or "network").' },
  twilio_rest_errors_total: { label: 'code', help: 'Twilio REST requests that failed, by Twilio error code (or HTTP status, or "network").' },
} as const satisfies Record<string, { label: string; help: string }>;
export type LabeledCounterName = keyof typeof labeledCounters;

/** Gauges read on each scrape from the function their owner registered (`Metrics.gauge`). */
export const gaugeHelp = {
  graphql_document_cache_entries: 'Parsed GraphQL documents in the document cache.',
  graphql_document_cache_tokens: 'Tokens of the GraphQL documents in the document cache.',
  call_writes_pending: 'Call writes (ends, rows of calls answered offline) waiting for Postgres to come back.',
  routing_cache_numbers: 'Numbers the routing cache can answer calls on while Postgres is unreachable.',
  active_calls: 'Calls whose media stream is open on this instance.',
} as const satisfies Record<string, string>;
export type GaugeName = keyof typeof gaugeHelp;
export const gaugeNames = Object.keys(gaugeHelp) as GaugeName[];

/** Up-down counts kept by `Metrics.adjust` (things that open and close). */
export const levelHelp = {
  audio_listeners: 'Listen-in audio subscriptions open on this instance.',
} as const satisfies Record<string, string>;
export type LevelName = keyof typeof levelHelp;

/** Gauges with labels, whose owner reports every sample on each scrape (`Metrics.gaugeLabeled`). */
export const labeledGauges = {
  queue_jobs: {
    help: 'Jobs in the job queue by queue and state (ready: runnable now; deferred: scheduled for later, retries included; active: running; failed: failed and still retained). pg-boss refreshes these counts every few seconds.',
    labels: ['queue', 'state'],
  },
} as const satisfies Record<string, { help: string; labels: readonly string[] }>;
export type LabeledGaugeName = keyof typeof labeledGauges;

/** Seconds. Turn and greeting waits are felt from ~0.3 s; beyond 5 s the call is broken. */
const conversationBuckets = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1, 1.25, 1.5, 2, 2.5, 3, 4, 5];
/** Seconds. A tool answers from memory in microseconds; a booking's insert takes milliseconds. */
const toolBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** Seconds. Pipeline steps run from milliseconds (saving) to minutes (transcribing a long recording). */
const stepBuckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
/** Seconds. A webhook attempt ends by WEBHOOK_TIMEOUT_MS (10 s by default). */
const webhookBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Histograms (seconds), observed by `Metrics.observe`, with their label names. */
export const histograms = {
  call_turn_latency_seconds: {
    help: "From OpenAI's input_audio_buffer.speech_stopped reaching Callwatch to the answer's first audio frame sent to Twilio, per turn the agent answered.",
    labels: [],
    buckets: conversationBuckets,
  },
  call_greeting_latency_seconds: {
    help: "From the media stream's verified start to the first agent audio frame sent to Twilio, per call.",
    labels: [],
    buckets: conversationBuckets,
  },
  openai_time_to_first_audio_seconds: {
    help: "From a response's response.created reaching Callwatch to its first audio delta reaching Callwatch, per response that spoke.",
    labels: [],
    buckets: conversationBuckets,
  },
  tool_run_seconds: { help: "Time an agent tool took to run during a call, by tool ('unknown' for a name the agent does not have).", labels: ['tool'], buckets: toolBuckets },
  pipeline_step_seconds: { help: 'Time a post-call pipeline step took (its attempt, whatever the outcome), by step.', labels: ['step'], buckets: stepBuckets },
  webhook_attempt_seconds: {
    help: 'Time a webhook delivery attempt took, by outcome: delivered, retry (a later attempt follows), failed, dead, refused.',
    labels: ['outcome'],
    buckets: webhookBuckets,
  },
} as const satisfies Record<string, { help: string; labels: readonly string[]; buckets: readonly number[] }>;
export type HistogramName = keyof typeof histograms;
