/**
 * Process-wide counters of things worth watching: bad input the service shrugged off,
 * calls handled, frames relayed. Plain integers, cheap enough for the audio path; exposed
 * at GET /metrics in Prometheus text format and read directly by tests. Labeled counters
 * count per value of one label (an event type, an error code), for a bounded set of
 * values. Gauges report the size of something when /metrics is read, from the function
 * its owner registered.
 */
export const counterNames = [
  'twilio_webhook_rejected_total',
  /** Voice webhooks that failed inside (the database unreachable…): the caller heard an apology. */
  'twilio_voice_failed_total',
  'media_invalid_json_total',
  'media_unknown_event_total',
  'media_before_start_total',
  'media_invalid_payload_total',
  'media_oversized_frame_total',
  'media_duplicate_start_total',
  'media_bad_token_total',
  /** Media streams refused because their (valid) stream token had already opened one. */
  'media_token_reused_total',
  'media_start_timeout_total',
  'media_sockets_refused_total',
  'media_buffered_frames_total',
  'media_buffer_overflow_total',
  /** Gaps in a call's inbound timestamps (audio lost on the way) filled with silence for OpenAI. */
  'media_gap_filled_total',
  /** Media streams closed for sending more frames than Twilio does (FrameBudget). */
  'media_rate_exceeded_total',
  'openai_invalid_event_total',
  'openai_error_event_total',
  'openai_transcription_failed_total',
  'realtime_preopened_total',
  'realtime_preopened_used_total',
  'realtime_preopened_unused_total',
  'realtime_session_failed_total',
  'realtime_session_rollovers_total',
  'call_handler_errors_total',
  'calls_started_total',
  'calls_ended_total',
  'frames_to_openai_total',
  'frames_to_twilio_total',
  'pipeline_runs_total',
  'pipeline_steps_failed_total',
  /** Recorded calls whose recording callback never came: the safety net started their pipeline. */
  'recording_callbacks_missed_total',
  'webhook_attempts_total',
  'webhook_delivered_total',
  'webhook_failed_total',
  'webhook_dead_total',
  'webhook_refused_total',
  'subscription_audio_dropped_total',
  'subscription_slow_disconnected_total',
  /** graphql-ws sockets (4403) and SSE streams ended because their API key was revoked. */
  'subscriptions_revoked_closed_total',
  'bus_publish_failures_total',
  'graphql_request_too_large_total',
  /** Connections the HTTP server closed at once for being over HTTP_MAX_CONNECTIONS. */
  'http_connections_refused_total',
  /** /metrics requests without the METRICS_TOKEN. */
  'metrics_unauthorized_total',
  'graphql_document_too_large_total',
  /** Audit log entries that could not be written (the mutation itself went through). */
  'audit_log_write_failed_total',
  /** Attempts to write a call's end again after Postgres was unreachable (PendingCallWrites). */
  'call_writes_retried_total',
  /** Call ends still unwritten at shutdown, spilled to DATA_DIR/pending-call-writes. */
  'call_writes_spilled_total',
  /** Spilled call ends written at a later start. */
  'call_writes_replayed_total',
  /** Call ends the database refused (not a connection error): logged, not retried. */
  'call_writes_refused_total',
] as const;
export type CounterName = (typeof counterNames)[number];

/**
 * Counters with one label, each with its label's name: counted per value of something
 * that varies (an event type, an error code). Rendered as `callwatch_<name>{<label>="<value>"}`.
 */
export const labeledCounterLabels = {
  openai_unhandled_event_total: 'type',
  openai_response_failed_total: 'code',
  openai_error_event_by_code_total: 'code',
} as const satisfies Record<string, string>;
export type LabeledCounterName = keyof typeof labeledCounterLabels;

/**
 * The label values one labeled counter tracks, and their longest length; values beyond
 * either are counted under `other`. The values come from outside (a remote service's
 * event types and codes): a bug or a hostile peer sending a new one per message must
 * not grow memory, or /metrics, without bound.
 */
export const maxLabelValues = 100;
export const maxLabelValueLength = 100;
export const otherLabelValue = 'other';

export const gaugeNames = [
  'graphql_document_cache_entries',
  'graphql_document_cache_tokens',
  /** Call ends waiting for Postgres to come back. */
  'call_writes_pending',
] as const;
export type GaugeName = (typeof gaugeNames)[number];

/** Histograms (seconds). Issue 20 item 1 gives them buckets; see `Metrics.observe`. */
export const histogramNames = [
  'call_turn_latency_seconds',
  'call_greeting_latency_seconds',
  'openai_time_to_first_audio_seconds',
  'tool_run_seconds',
  'pipeline_step_seconds',
  'webhook_attempt_seconds',
] as const;
export type HistogramName = (typeof histogramNames)[number];

export class Metrics {
  readonly #counts = new Map<CounterName, number>(counterNames.map((name) => [name, 0]));
  readonly #gauges = new Map<GaugeName, () => number>();
  readonly #labeled = new Map<LabeledCounterName, Map<string, number>>(
    Object.keys(labeledCounterLabels).map((name) => [name as LabeledCounterName, new Map()]),
  );

  increment(name: CounterName, by = 1): void {
    this.#counts.set(name, (this.#counts.get(name) ?? 0) + by);
  }

  get(name: CounterName): number {
    return this.#counts.get(name) ?? 0;
  }

  /**
   * Adds `by` to labeled counter `name` for label value `value` — or for `other` once the
   * counter tracks `maxLabelValues` values, or when `value` is empty or longer than
   * `maxLabelValueLength`.
   */
  incrementLabeled(name: LabeledCounterName, value: string, by = 1): void {
    const values = this.#labeledValues(name);
    const trackedValues = values.size - (values.has(otherLabelValue) ? 1 : 0);
    const fits = value.length > 0 && value.length <= maxLabelValueLength && trackedValues < maxLabelValues;
    const key = values.has(value) || fits ? value : otherLabelValue;
    values.set(key, (values.get(key) ?? 0) + by);
  }

  /** The count of labeled counter `name` for exactly `value` (`other` holds the overflow). */
  getLabeled(name: LabeledCounterName, value: string): number {
    return this.#labeledValues(name).get(value) ?? 0;
  }

  #labeledValues(name: LabeledCounterName): Map<string, number> {
    let values = this.#labeled.get(name);
    if (!values) this.#labeled.set(name, (values = new Map()));
    return values;
  }

  /** Reports `read()` as gauge `name` from now on (the last registration wins). */
  gauge(name: GaugeName, read: () => number): void {
    this.#gauges.set(name, read);
  }

  /**
   * Records one observation of histogram `name`. A placeholder that records nothing: the
   * prom-client Metrics (issue 20 item 1) replaces it with real histograms.
   */
  observe(_name: HistogramName, _seconds: number, _labels?: Record<string, string>): void {}

  /** Prometheus exposition format. */
  render(): string {
    const counters = [...this.#counts].map(([name, value]) => `# TYPE callwatch_${name} counter\ncallwatch_${name} ${value}\n`);
    const labeled = [...this.#labeled].map(([name, values]) => {
      const label = labeledCounterLabels[name];
      const samples = [...values].map(([value, count]) => `callwatch_${name}{${label}="${escapeLabelValue(value)}"} ${count}\n`);
      return `# TYPE callwatch_${name} counter\n${samples.join('')}`;
    });
    const gauges = [...this.#gauges].map(([name, read]) => `# TYPE callwatch_${name} gauge\ncallwatch_${name} ${read()}\n`);
    return [...counters, ...labeled, ...gauges].join('');
  }
}

/** A label value in Prometheus text format: backslash, double quote and line feed escaped. */
function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (character) => (character === '\n' ? '\\n' : `\\${character}`));
}
