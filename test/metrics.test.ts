import { describe, expect, it } from 'vitest';
import { maxLabelValueLength, maxLabelValues, Metrics } from '../src/core/metrics.ts';

describe('labeled counters', () => {
  it('count per label value and render one Prometheus sample per value under one TYPE line', () => {
    const metrics = new Metrics();
    metrics.incrementLabeled('openai_unhandled_event_total', 'rate_limits.updated');
    metrics.incrementLabeled('openai_unhandled_event_total', 'rate_limits.updated');
    metrics.incrementLabeled('openai_unhandled_event_total', 'output_audio_buffer.started', 3);
    metrics.incrementLabeled('openai_response_failed_total', 'rate_limit_exceeded');

    expect(metrics.getLabeled('openai_unhandled_event_total', 'rate_limits.updated')).toBe(2);
    expect(metrics.getLabeled('openai_unhandled_event_total', 'output_audio_buffer.started')).toBe(3);
    expect(metrics.getLabeled('openai_unhandled_event_total', 'never.sent')).toBe(0);
    const text = metrics.render();
    expect(text).toContain(
      '# TYPE callwatch_openai_unhandled_event_total counter\n' +
        'callwatch_openai_unhandled_event_total{type="rate_limits.updated"} 2\n' +
        'callwatch_openai_unhandled_event_total{type="output_audio_buffer.started"} 3\n',
    );
    expect(text).toMatch(/^callwatch_openai_response_failed_total\{code="rate_limit_exceeded"\} 1$/m);
    // A labeled counter nothing has counted yet is declared, with no sample.
    expect(text).toContain('# TYPE callwatch_openai_error_event_by_code_total counter\n');
    expect(text).not.toContain('callwatch_openai_error_event_by_code_total{');
    // Plain counters are unchanged.
    expect(text).toMatch(/^callwatch_openai_invalid_event_total 0$/m);
  });

  it('escapes backslashes, double quotes and line feeds in label values', () => {
    const metrics = new Metrics();
    metrics.incrementLabeled('openai_unhandled_event_total', 'a"b\\c\nd} 99');
    expect(metrics.render()).toContain('callwatch_openai_unhandled_event_total{type="a\\"b\\\\c\\nd} 99"} 1\n');
    expect(metrics.getLabeled('openai_unhandled_event_total', 'a"b\\c\nd} 99')).toBe(1);
  });

  it('keeps at most 100 values per counter and counts the rest, and empty or overlong values, under other', () => {
    const metrics = new Metrics();
    for (let i = 0; i < maxLabelValues + 50; i++) metrics.incrementLabeled('openai_unhandled_event_total', `type.${i}`);
    metrics.incrementLabeled('openai_unhandled_event_total', '');
    metrics.incrementLabeled('openai_unhandled_event_total', 'x'.repeat(maxLabelValueLength + 1));
    // A value tracked before the limit was reached is still counted as itself.
    metrics.incrementLabeled('openai_unhandled_event_total', 'type.0');

    expect(metrics.getLabeled('openai_unhandled_event_total', 'type.0')).toBe(2);
    expect(metrics.getLabeled('openai_unhandled_event_total', `type.${maxLabelValues - 1}`)).toBe(1);
    expect(metrics.getLabeled('openai_unhandled_event_total', `type.${maxLabelValues}`)).toBe(0);
    expect(metrics.getLabeled('openai_unhandled_event_total', 'other')).toBe(52);
    const samples = metrics.render().split('\n').filter((line) => line.startsWith('callwatch_openai_unhandled_event_total{'));
    expect(samples).toHaveLength(maxLabelValues + 1);
    // Each labeled counter has its own limit.
    metrics.incrementLabeled('openai_error_event_by_code_total', 'server_error');
    expect(metrics.getLabeled('openai_error_event_by_code_total', 'server_error')).toBe(1);
  });
});
