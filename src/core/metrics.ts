/**
 * Process-wide counters of things worth watching: bad input the service shrugged off,
 * calls handled, frames relayed. Plain integers, cheap enough for the audio path; exposed
 * at GET /metrics in Prometheus text format and read directly by tests. Gauges report
 * the size of something when /metrics is read, from the function its owner registered.
 */
export const counterNames = [
  'twilio_webhook_rejected_total',
  'media_invalid_json_total',
  'media_unknown_event_total',
  'media_before_start_total',
  'media_invalid_payload_total',
  'media_oversized_frame_total',
  'media_duplicate_start_total',
  'media_bad_token_total',
  'media_start_timeout_total',
  'media_sockets_refused_total',
  'media_buffered_frames_total',
  'media_buffer_overflow_total',
  /** Gaps in a call's inbound timestamps (audio lost on the way) filled with silence for OpenAI. */
  'media_gap_filled_total',
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
  'webhook_attempts_total',
  'webhook_delivered_total',
  'webhook_failed_total',
  'webhook_dead_total',
  'webhook_refused_total',
  'subscription_audio_dropped_total',
  'subscription_slow_disconnected_total',
  'bus_publish_failures_total',
  'graphql_request_too_large_total',
  'graphql_document_too_large_total',
] as const;
export type CounterName = (typeof counterNames)[number];

export const gaugeNames = ['graphql_document_cache_entries', 'graphql_document_cache_tokens'] as const;
export type GaugeName = (typeof gaugeNames)[number];

export class Metrics {
  readonly #counts = new Map<CounterName, number>(counterNames.map((name) => [name, 0]));
  readonly #gauges = new Map<GaugeName, () => number>();

  increment(name: CounterName, by = 1): void {
    this.#counts.set(name, (this.#counts.get(name) ?? 0) + by);
  }

  get(name: CounterName): number {
    return this.#counts.get(name) ?? 0;
  }

  /** Reports `read()` as gauge `name` from now on (the last registration wins). */
  gauge(name: GaugeName, read: () => number): void {
    this.#gauges.set(name, read);
  }

  /** Prometheus exposition format. */
  render(): string {
    const counters = [...this.#counts].map(([name, value]) => `# TYPE callwatch_${name} counter\ncallwatch_${name} ${value}\n`);
    const gauges = [...this.#gauges].map(([name, read]) => `# TYPE callwatch_${name} gauge\ncallwatch_${name} ${read()}\n`);
    return [...counters, ...gauges].join('');
  }
}
