import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SilenceWatchdog } from '../../src/realtime/agent/silence-watchdog.ts';

describe('silence watchdog', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function watchdog(reprompts = 2) {
    const calls: string[] = [];
    const dog = new SilenceWatchdog({ timeoutMs: 8000, reprompts, onReprompt: (n) => calls.push(`reprompt ${n}`), onGiveUp: () => calls.push('give up') });
    return { dog, calls };
  }

  it('reprompts after the timeout of silence once the agent has finished, then gives up', () => {
    const { dog, calls } = watchdog();
    dog.agentStarted();
    vi.advanceTimersByTime(20_000);
    expect(calls).toEqual([]);
    dog.agentStopped();
    vi.advanceTimersByTime(7999);
    expect(calls).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(calls).toEqual(['reprompt 1']);
    // The reprompt is spoken, then silence again.
    dog.agentStarted();
    dog.agentStopped();
    vi.advanceTimersByTime(8000);
    dog.agentStarted();
    dog.agentStopped();
    vi.advanceTimersByTime(8000);
    expect(calls).toEqual(['reprompt 1', 'reprompt 2', 'give up']);
    vi.advanceTimersByTime(60_000);
    expect(calls).toHaveLength(3);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('is reset by caller speech and paused while the caller talks', () => {
    const { dog, calls } = watchdog(1);
    dog.agentStopped();
    vi.advanceTimersByTime(8000);
    expect(calls).toEqual(['reprompt 1']);
    dog.callerStarted();
    vi.advanceTimersByTime(30_000);
    expect(calls).toEqual(['reprompt 1']);
    dog.callerStopped();
    vi.advanceTimersByTime(8000);
    // The count started again: a reprompt, not a goodbye.
    expect(calls).toEqual(['reprompt 1', 'reprompt 1']);
  });

  it('leaves no timer behind when stopped', () => {
    const { dog, calls } = watchdog();
    dog.agentStopped();
    expect(vi.getTimerCount()).toBe(1);
    dog.stop();
    expect(vi.getTimerCount()).toBe(0);
    dog.callerStopped();
    vi.advanceTimersByTime(60_000);
    expect(calls).toEqual([]);
  });
});
