import { describe, expect, it } from 'vitest';
import { PlaybackClock } from '../../src/realtime/session/playback-clock.ts';

/** A clock whose time only moves when the test says so. */
function clock(options: { markIntervalMs?: number } = { markIntervalMs: 200 }) {
  let now = 1_000;
  const playback = new PlaybackClock({ ...options, now: () => now });
  return {
    playback,
    advance(ms: number) {
      now += ms;
    },
  };
}

/** Sends `count` chunks of `ms` each; returns the marks due after them, in order. */
function send(playback: PlaybackClock, responseId: string, itemId: string, count: number, ms = 100): string[] {
  const marks: string[] = [];
  for (let i = 0; i < count; i++) {
    const plan = playback.chunk(responseId, itemId, ms);
    if (plan.markAfter) marks.push(plan.markAfter);
  }
  return marks;
}

describe('playback clock: marks', () => {
  it('asks for a mark after every mark interval of audio (200 ms here) and at the end of each item', () => {
    const { playback } = clock();
    const first = playback.chunk('resp_1', 'item_a', 100);
    expect(first).toEqual({ forward: true, startsItem: true, markAfter: undefined });
    expect(playback.chunk('resp_1', 'item_a', 100)).toEqual({ forward: true, startsItem: false, markAfter: 'agent-1' });
    // Twilio's 20 ms frames: one mark per ten.
    expect(send(playback, 'resp_1', 'item_a', 10, 20)).toEqual(['agent-2']);
    expect(send(playback, 'resp_1', 'item_a', 1, 20)).toEqual([]);
    expect(playback.itemDone('item_a')).toBe('agent-3');
    // A second item starts where the first ended and gets marks of its own.
    expect(playback.chunk('resp_1', 'item_b', 300)).toEqual({ forward: true, startsItem: true, markAfter: 'agent-4' });
    // Its last audio already has a mark after it: no second one at its end.
    expect(playback.itemDone('item_b')).toBeUndefined();
  });

  it('needs no mark for an item it never sent audio of', () => {
    const { playback } = clock();
    expect(playback.itemDone('item_silent')).toBeUndefined();
    expect(playback.playedOut).toBe(true);
  });
});

describe('playback clock: played out', () => {
  it('says the agent stopped once the marks of every finished item came back, and only then', () => {
    const { playback, advance } = clock();
    const marks = send(playback, 'resp_1', 'item_a', 5);
    expect(marks).toEqual(['agent-1', 'agent-2']);
    const end = playback.itemDone('item_a');
    expect(end).toBe('agent-3');
    expect(playback.playedOut).toBe(false);
    advance(300);
    expect(playback.markReturned('agent-1')).toBe(false);
    expect(playback.markReturned('agent-2')).toBe(false);
    expect(playback.playedOut).toBe(false);
    expect(playback.markReturned('agent-3')).toBe(true);
    expect(playback.playedOut).toBe(true);
    // Said once per stretch of speech: a repeated or unknown mark changes nothing.
    expect(playback.markReturned('agent-3')).toBe(false);
    expect(playback.markReturned('somebody-else')).toBe(false);
  });

  it('does not take an item still being spoken as played, even when Twilio has played all of it so far', () => {
    const { playback } = clock();
    send(playback, 'resp_1', 'item_a', 2);
    expect(playback.markReturned('agent-1')).toBe(false);
    expect(playback.playedOut).toBe(false);
    const end = playback.itemDone('item_a');
    expect(end).toBe('agent-2');
    expect(playback.markReturned(end!)).toBe(true);
  });

  it('takes a returned mark as proof for every mark sent before it', () => {
    const { playback } = clock();
    send(playback, 'resp_1', 'item_a', 6);
    playback.itemDone('item_a');
    expect(playback.markReturned('agent-3')).toBe(true);
    expect(playback.markReturned('agent-1')).toBe(false);
  });

  it('stops waiting for lost marks a second after the send clock says the audio ended', () => {
    const { playback, advance } = clock();
    expect(playback.lostMarkDeadlineMs()).toBe(1_000);
    send(playback, 'resp_1', 'item_a', 30);
    expect(playback.lostMarkDeadlineMs()).toBe(3_000 + 1_000);
    advance(1_000);
    expect(playback.lostMarkDeadlineMs()).toBe(2_000 + 1_000);
    // Audio sent after a pause starts on the send clock when it is sent, not when the last ended.
    advance(5_000);
    send(playback, 'resp_1', 'item_a', 1);
    expect(playback.lostMarkDeadlineMs()).toBe(100 + 1_000);
  });
});

describe('playback clock: interruption', () => {
  it('places the barge-in at the last returned mark plus the time since, never past the next mark', () => {
    const { playback, advance } = clock();
    send(playback, 'resp_1', 'item_a', 20); // 2 s sent at once, as OpenAI bursts
    advance(450);
    playback.markReturned('agent-2'); // 400 ms played
    advance(70);
    expect(playback.interrupt()).toEqual({ items: [{ itemId: 'item_a', responseId: 'resp_1', heardMs: 470, sentMs: 2_000 }], discardedResponseIds: ['resp_1'] });

    const again = clock();
    send(again.playback, 'resp_1', 'item_a', 20);
    again.playback.markReturned('agent-2');
    // The next mark (600 ms) has not come back: Twilio has not played past it, whatever the time says.
    again.advance(900);
    expect(again.playback.interrupt().items[0]?.heardMs).toBe(600);
  });

  it('counts nothing heard before a mark of the stretch has come back', () => {
    const { playback, advance } = clock();
    send(playback, 'resp_1', 'item_a', 20);
    advance(150);
    expect(playback.interrupt().items).toEqual([{ itemId: 'item_a', responseId: 'resp_1', heardMs: 0, sentMs: 2_000 }]);
  });

  it('truncates every item not heard to the end: the one playing where it stopped, the ones queued behind it at 0', () => {
    const { playback, advance } = clock();
    send(playback, 'resp_1', 'item_preamble', 10);
    playback.itemDone('item_preamble');
    send(playback, 'resp_1', 'item_answer', 10);
    playback.itemDone('item_answer');
    advance(700);
    playback.markReturned('agent-3'); // 600 ms of the preamble played
    expect(playback.interrupt()).toEqual({
      items: [
        { itemId: 'item_preamble', responseId: 'resp_1', heardMs: 600, sentMs: 1_000 },
        { itemId: 'item_answer', responseId: 'resp_1', heardMs: 0, sentMs: 1_000 },
      ],
      discardedResponseIds: ['resp_1'],
    });
  });

  it('leaves out an item already heard whole, and truncates the next one where it stopped', () => {
    const { playback, advance } = clock();
    send(playback, 'resp_1', 'item_a', 4);
    playback.itemDone('item_a'); // marks at 200 and 400 (its end)
    send(playback, 'resp_2', 'item_b', 10);
    advance(600);
    playback.markReturned('agent-3'); // 600 ms: item_a and 200 ms of item_b
    expect(playback.interrupt()).toEqual({ items: [{ itemId: 'item_b', responseId: 'resp_2', heardMs: 200, sentMs: 1_000 }], discardedResponseIds: ['resp_2'] });
  });

  it('drops the rest of the interrupted responses, but not the next one', () => {
    const { playback } = clock();
    send(playback, 'resp_1', 'item_a', 5);
    playback.interrupt();
    expect(playback.chunk('resp_1', 'item_a', 100)).toEqual({ forward: false, startsItem: false, markAfter: undefined });
    expect(playback.itemDone('item_a')).toBeUndefined();
    expect(playback.playedOut).toBe(true);
    expect(playback.chunk('resp_2', 'item_b', 100)).toEqual({ forward: true, startsItem: true, markAfter: undefined });
  });

  it('drops the response in progress even before its first audio, as OpenAI cancels it', () => {
    const { playback } = clock();
    expect(playback.interrupt('resp_1')).toEqual({ items: [], discardedResponseIds: ['resp_1'] });
    expect(playback.chunk('resp_1', 'item_a', 100).forward).toBe(false);
  });

  it('ignores the marks Twilio returns on clear: that audio was never played', () => {
    const { playback, advance } = clock();
    send(playback, 'resp_1', 'item_a', 20);
    playback.interrupt();
    for (const name of ['agent-1', 'agent-2', 'agent-3']) expect(playback.markReturned(name)).toBe(false);
    // The next response starts a fresh stretch; its marks count.
    expect(send(playback, 'resp_2', 'item_b', 3)).toEqual(['agent-11']);
    const end = playback.itemDone('item_b');
    advance(400);
    expect(playback.markReturned('agent-1')).toBe(false);
    expect(playback.markReturned('agent-11')).toBe(false);
    expect(playback.markReturned(end!)).toBe(true);
  });

  it('has nothing to cut once everything has played', () => {
    const { playback } = clock();
    send(playback, 'resp_1', 'item_a', 2);
    playback.markReturned(playback.itemDone('item_a') ?? 'agent-1');
    expect(playback.interrupt()).toEqual({ items: [], discardedResponseIds: [] });
  });

  it('keeps the marks of each stretch on their own time: the refinement does not count a quiet gap', () => {
    const { playback, advance } = clock();
    send(playback, 'resp_1', 'item_a', 2);
    playback.itemDone('item_a');
    playback.markReturned('agent-1');
    // Long quiet, then a new response: the old mark's time must not make it look heard.
    advance(10_000);
    send(playback, 'resp_2', 'item_b', 10);
    advance(100);
    expect(playback.interrupt().items).toEqual([{ itemId: 'item_b', responseId: 'resp_2', heardMs: 0, sentMs: 1_000 }]);
  });
});
