import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ResponseCancelEvent, ResponseCreateEvent } from 'openai/resources/realtime/realtime';
import { maxResponseRetries, ResponseQueue, type FinishedResponse, type ResponseQueueHost } from '../../src/realtime/agent/response-queue.ts';

/** The response queue alone: what it sends, when, and what it gives up on. */

type Sent = ResponseCreateEvent | ResponseCancelEvent;

function queue() {
  const sent: Sent[] = [];
  const failures: { code: string; retryInMs: number | undefined }[] = [];
  const lost: string[] = [];
  const host: ResponseQueueHost = {
    send: (event) => sent.push(event),
    instructions: (directive) => `PROMPT\n${directive}`,
    continueDirective: () => 'continue',
    answerDirective: () => 'answer',
    failed: (code, retryInMs) => failures.push({ code, retryInMs }),
    lost: (problem) => lost.push(problem),
  };
  const q = new ResponseQueue(host);
  q.resume();
  const creates = () => sent.filter((event): event is ResponseCreateEvent => event.type === 'response.create');
  /** OpenAI starts the response for the last create (`ours`) or one of its own (VAD). */
  const created = (id: string, ours = true) => q.created({ id, metadata: ours ? (creates().at(-1)?.response?.metadata ?? null) : null });
  return { q, sent, creates, created, failures, lost };
}

function response(id: string, status: FinishedResponse['status'], metadata: FinishedResponse['metadata'] = null, details?: FinishedResponse['status_details']): FinishedResponse {
  return { id, status, metadata, status_details: details };
}

const failed = (id: string, code: string) => response(id, 'failed', null, { type: 'failed', error: { type: 'invalid_request_error', code } });

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('the response queue', () => {
  it('sends one response.create at a time, each with the whole prompt and metadata naming it', () => {
    const { q, creates, created } = queue();
    q.request({ reason: 'greeting', directive: 'greet' });
    q.request({ reason: 'tool-results' });
    expect(creates()).toHaveLength(1);
    expect(creates()[0]).toMatchObject({ event_id: 'cw_resp_1', response: { instructions: 'PROMPT\ngreet', metadata: { callwatch_request: 'cw_resp_1' } } });
    created('r1');
    q.done(response('r1', 'completed'));
    expect(creates()).toHaveLength(2);
    expect(creates()[1]!.response).not.toHaveProperty('instructions');
  });

  it('waits for a response VAD started, and sends a refused request again once it is done', () => {
    const { q, creates, created } = queue();
    created('vad', false);
    q.request({ reason: 'tool-results' });
    expect(creates()).toHaveLength(0);
    q.done(response('vad', 'completed'));
    expect(creates()).toHaveLength(1);
    // VAD got there first after all: the request is refused, waits, and goes again.
    created('vad2', false);
    expect(q.refused({ type: 'invalid_request_error', code: 'conversation_already_has_active_response', message: 'busy', event_id: 'cw_resp_1' })).toBe(true);
    expect(creates()).toHaveLength(1);
    q.done(response('vad2', 'completed'));
    expect(creates()).toHaveLength(2);
  });

  it('drops a reprompt while anything is active or waiting; a goodbye replaces what waits and ends the queue', () => {
    const { q, creates, created } = queue();
    const done = vi.fn();
    q.request({ reason: 'greeting', directive: 'greet' });
    expect(q.request({ reason: 'reprompt', directive: 'still there?' })).toBe(false);
    q.request({ reason: 'key-press' });
    q.request({ reason: 'goodbye', directive: 'bye', done });
    expect(q.request({ reason: 'tool-results' })).toBe(false);
    created('r1');
    q.done(response('r1', 'completed'));
    expect(creates().map((event) => event.response?.instructions)).toEqual(['PROMPT\ngreet', 'PROMPT\nbye']);
    created('r2');
    q.done(response('r2', 'completed'));
    expect(done).toHaveBeenCalledWith('completed');
  });

  it('retries a failed response after a back-off, then gives the agent up', () => {
    const { q, creates, created, failures, lost } = queue();
    q.request({ reason: 'greeting', directive: 'greet' });
    for (let attempt = 1; attempt <= maxResponseRetries; attempt++) {
      created(`r${attempt}`);
      q.done(failed(`r${attempt}`, 'server_error'));
      expect(creates()).toHaveLength(attempt);
      vi.runOnlyPendingTimers();
      expect(creates()).toHaveLength(attempt + 1);
      expect(creates().at(-1)?.response?.instructions).toBe('PROMPT\ngreet');
    }
    created('last');
    q.done(failed('last', 'server_error'));
    expect(failures.map((failure) => failure.retryInMs)).toEqual([250, 1000, undefined]);
    expect(lost).toEqual([expect.stringContaining('server_error')]);
    q.request({ reason: 'reprompt' });
    expect(creates()).toHaveLength(maxResponseRetries + 1);
  });

  it('waits out a rate limit until the reset OpenAI reported, and gives up at once on a reset too far off', () => {
    const { q, creates, created, failures, lost } = queue();
    q.rateLimits([{ name: 'tokens', remaining: 0, reset_seconds: 2.5 }], performance.now());
    q.request({ reason: 'greeting', directive: 'greet' });
    created('r1');
    q.done(failed('r1', 'rate_limit_exceeded'));
    expect(failures[0]!.retryInMs).toBeGreaterThanOrEqual(2400);
    vi.advanceTimersByTime(2000);
    expect(creates()).toHaveLength(1);
    vi.advanceTimersByTime(600);
    expect(creates()).toHaveLength(2);
    q.rateLimits([{ name: 'requests', remaining: 0, reset_seconds: 60 }], performance.now());
    created('r2');
    q.done(failed('r2', 'rate_limit_exceeded'));
    expect(lost).toHaveLength(1);
  });

  it('asks a cut-off response to finish, and lets VAD supersede the retry of its own failed response', () => {
    const { q, creates, created } = queue();
    created('vad', false);
    q.done(response('vad', 'incomplete', null, { type: 'incomplete', reason: 'max_output_tokens' }));
    vi.runOnlyPendingTimers();
    expect(creates().at(-1)?.response?.instructions).toBe('PROMPT\ncontinue');
    created('r1');
    q.done(response('r1', 'completed'));
    created('vad2', false);
    q.done(failed('vad2', 'server_error'));
    // The caller speaks again before the retry: VAD's new response answers that instead.
    created('vad3', false);
    vi.runOnlyPendingTimers();
    expect(creates()).toHaveLength(1);
  });

  it('cancels the active response on close and sends nothing after', () => {
    const { q, sent, created } = queue();
    q.request({ reason: 'greeting', directive: 'greet' });
    created('r1');
    q.close();
    q.request({ reason: 'tool-results' });
    expect(sent.map((event) => event.type)).toEqual(['response.create', 'response.cancel']);
  });
});
