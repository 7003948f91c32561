import { describe, expect, it } from 'vitest';
import { FrameBudget, burstFrames } from '../../src/realtime/twilio-line/frame-budget.ts';

describe('FrameBudget', () => {
  it('allows the burst at once, then Twilio’s rate, and never more than the burst after a pause', () => {
    const budget = new FrameBudget(0);
    for (let frame = 0; frame < burstFrames; frame++) expect(budget.take(0)).toBe(true);
    expect(budget.take(0)).toBe(false);
    // 20 ms later, one frame more.
    expect(budget.take(20)).toBe(true);
    expect(budget.take(20)).toBe(false);
    // A minute of quiet refills the burst, no more.
    let taken = 0;
    while (budget.take(60_020)) taken++;
    expect(taken).toBe(burstFrames);
  });

  it('keeps a stream at 50 frames a second within its budget indefinitely', () => {
    const budget = new FrameBudget(0);
    for (let frame = 0; frame < 50 * 3600; frame++) expect(budget.take(frame * 20)).toBe(true);
  });

  it('ignores a clock that goes back', () => {
    const budget = new FrameBudget(1000, { burst: 1 });
    expect(budget.take(1000)).toBe(true);
    expect(budget.take(500)).toBe(false);
  });
});
