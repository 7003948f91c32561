import { readFileSync } from 'node:fs';
import perfHooks from 'node:perf_hooks';
import { describe, expect, it, vi } from 'vitest';
import { gaugeNames } from '../../src/core/metric-definitions.ts';
import { maxLabelValueLength, maxLabelValues, Metrics } from '../../src/core/metrics.ts';

describe('labeled counters', async () => {
  it('count per label value and render one Prometheus sample per value under one TYPE line', async () => {
    const metrics = new Metrics();
    metrics.incrementLabeled('openai_unhandled_event_total', 'rate_limits.updated');
    metrics.incrementLabeled('openai_unhandled_event_total', 'rate_limits.updated');
    metrics.incrementLabeled('openai_unhandled_event_total', 'output_audio_buffer.started', 3);
    metrics.incrementLabeled('openai_response_failed_total', 'rate_limit_exceeded');

    expect(metrics.getLabeled('openai_unhandled_event_total', 'rate_limits.updated')).toBe(2);
    expect(metrics.getLabeled('openai_unhandled_event_total', 'output_audio_buffer.started')).toBe(3);
    expect(metrics.getLabeled('openai_unhandled_event_total', 'never.sent')).toBe(0);
    const text = await metrics.render();
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

  it('escapes backslashes, double quotes and line feeds in label values', async () => {
    const metrics = new Metrics();
    metrics.incrementLabeled('openai_unhandled_event_total', 'a"b\\c\nd} 99');
    expect(await metrics.render()).toContain('callwatch_openai_unhandled_event_total{type="a\\"b\\\\c\\nd} 99"} 1\n');
    expect(metrics.getLabeled('openai_unhandled_event_total', 'a"b\\c\nd} 99')).toBe(1);
  });

  it('keeps at most 100 values per counter and counts the rest, and empty or overlong values, under other', async () => {
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
    const samples = (await metrics.render()).split('\n').filter((line) => line.startsWith('callwatch_openai_unhandled_event_total{'));
    expect(samples).toHaveLength(maxLabelValues + 1);
    // Each labeled counter has its own limit.
    metrics.incrementLabeled('openai_error_event_by_code_total', 'server_error');
    expect(metrics.getLabeled('openai_error_event_by_code_total', 'server_error')).toBe(1);
  });
});

describe('histograms', () => {
  it('count an observation in every bucket at or above it, with its label', async () => {
    const metrics = new Metrics();
    metrics.observe('tool_run_seconds', 0.003, { tool: 'book_appointment' });
    metrics.observe('call_turn_latency_seconds', 0.7);
    expect(await metrics.observed('tool_run_seconds', { tool: 'book_appointment' })).toEqual({ count: 1, sum: 0.003 });
    expect(await metrics.observed('tool_run_seconds', { tool: 'end_call' })).toEqual({ count: 0, sum: 0 });
    const text = await metrics.render();
    expect(text).toContain('callwatch_tool_run_seconds_bucket{le="0.0025",tool="book_appointment"} 0\n');
    expect(text).toContain('callwatch_tool_run_seconds_bucket{le="0.005",tool="book_appointment"} 1\n');
    expect(text).toContain('callwatch_call_turn_latency_seconds_bucket{le="0.6"} 0\n');
    expect(text).toContain('callwatch_call_turn_latency_seconds_bucket{le="0.8"} 1\n');
  });

  it('keep at most 100 label values per histogram, the rest and empty or overlong values under other, and ignore negative or non-finite seconds', async () => {
    const metrics = new Metrics();
    for (let i = 0; i < maxLabelValues + 5; i++) metrics.observe('pipeline_step_seconds', 1, { step: `step-${i}` });
    metrics.observe('pipeline_step_seconds', 1, { step: '' });
    metrics.observe('pipeline_step_seconds', 1, { step: 'x'.repeat(maxLabelValueLength + 1) });
    metrics.observe('pipeline_step_seconds', -1, { step: 'step-0' });
    metrics.observe('pipeline_step_seconds', Number.NaN, { step: 'step-0' });
    expect((await metrics.observed('pipeline_step_seconds', { step: 'step-0' })).count).toBe(1);
    expect((await metrics.observed('pipeline_step_seconds', { step: 'other' })).count).toBe(7);
    const series = (await metrics.render()).split('\n').filter((line) => line.startsWith('callwatch_pipeline_step_seconds_count{'));
    expect(series).toHaveLength(maxLabelValues + 1);
  });
});

describe('exposition', () => {
  it('gives every family HELP, including gauges registered later and up-down counts', async () => {
    const metrics = new Metrics();
    metrics.gauge('active_calls', () => 3);
    metrics.adjust('audio_listeners', 2);
    metrics.adjust('audio_listeners', -1);
    const text = await metrics.render();
    const families = [...text.matchAll(/^# TYPE (\S+) /gm)].map((match) => match[1]!);
    const helped = new Set([...text.matchAll(/^# HELP (\S+) \S/gm)].map((match) => match[1]!));
    expect(families.filter((name) => !helped.has(name))).toEqual([]);
    expect(text).toMatch(/^callwatch_active_calls 3$/m);
    expect(text).toMatch(/^callwatch_audio_listeners 1$/m);
    // A gauge no one registered (this process does not have what it measures) is left out.
    expect(text).not.toContain('callwatch_call_writes_pending');
  });
});

describe('process metrics', () => {
  it('sample the event loop every 100 ms, not prom-client’s default 10 ms', () => {
    // At 10 ms the delay monitor's timer woke an idle Callwatch 100 times a second: 4 ms of
    // CPU a second (bench:relay's idle figure), more than everything else it does idle.
    const monitor = vi.spyOn(perfHooks, 'monitorEventLoopDelay');
    try {
      new Metrics({ processMetrics: true });
      expect(monitor).toHaveBeenCalledWith({ resolution: 100 });
    } finally {
      monitor.mockRestore();
    }
  });
});

describe('README metrics table', () => {
  it('lists every metric Callwatch defines, and no other', async () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('### Metrics\n'), readme.indexOf('\n### ', readme.indexOf('### Metrics\n') + 1));
    const listed = [...section.matchAll(/^\| `(callwatch_[a-z_]+)` \|/gm)].map((row) => row[1]!);
    const metrics = new Metrics();
    for (const name of gaugeNames) metrics.gauge(name, () => 0);
    metrics.gaugeLabeled('queue_jobs', async () => []);
    // The families one process can have, minus build_info (described in the text).
    const defined = (await metrics.registry.getMetricsAsJSON()).map((family) => family.name).filter((name) => name !== 'callwatch_build_info');
    expect(listed.toSorted()).toEqual(defined.toSorted());
  });
});
