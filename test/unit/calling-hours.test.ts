import { describe, expect, it } from 'vitest';
import { nextCallingTime, retryTime } from '../../src/dialer/calling-hours.ts';
import { DEFAULT_CALLING_HOURS, DEFAULT_RETRY_POLICY, type CallingHours } from '../../src/entities/business-settings.entity.ts';
import { isAppError } from '../../src/core/errors.ts';

// Israel is UTC+2 in winter and UTC+3 in summer (2026: from Friday 27 March 02:00 to
// Sunday 25 October 02:00). Every instant below is explicit UTC with its local time beside it.
const hours = DEFAULT_CALLING_HOURS;
const zone = 'Asia/Jerusalem';

function next(at: string, custom: CallingHours = hours): string {
  return nextCallingTime(new Date(at), custom, zone).toISOString();
}

describe('nextCallingTime', () => {
  it('keeps a time inside a window as it is', () => {
    // Tuesday 24 Nov 2026 10:15 local
    expect(next('2026-11-24T08:15:00Z')).toBe('2026-11-24T08:15:00.000Z');
    // the window is [open, close): 09:00 itself is inside, 20:00 is not
    expect(next('2026-11-24T07:00:00Z')).toBe('2026-11-24T07:00:00.000Z');
  });

  it('moves a time before opening to the opening of the same day', () => {
    // Tuesday 24 Nov 2026 07:40 local → 09:00 local
    expect(next('2026-11-24T05:40:00Z')).toBe('2026-11-24T07:00:00.000Z');
  });

  it('moves a time at or after closing to the next day', () => {
    // Tuesday 24 Nov 2026 20:00 local → Wednesday 09:00 local
    expect(next('2026-11-24T18:00:00Z')).toBe('2026-11-25T07:00:00.000Z');
    // Tuesday 23:30 local is already Tuesday 21:30Z; still Wednesday 09:00 local
    expect(next('2026-11-24T21:30:00Z')).toBe('2026-11-25T07:00:00.000Z');
  });

  it('skips Saturday: Friday 13:30 → Sunday 09:00', () => {
    // Friday 27 Nov 2026 13:30 local → Sunday 29 Nov 09:00 local
    expect(next('2026-11-27T11:30:00Z')).toBe('2026-11-29T07:00:00.000Z');
    // Saturday 28 Nov 11:00 local → Sunday 09:00 local
    expect(next('2026-11-28T09:00:00Z')).toBe('2026-11-29T07:00:00.000Z');
  });

  it('skips a closed holiday (Yom Kippur, Monday 21 Sept 2026)', () => {
    // Sunday 20 Sept 2026 20:30 local (summer) → Tuesday 22 Sept 09:00 local
    expect(next('2026-09-20T17:30:00Z')).toBe('2026-09-22T06:00:00.000Z');
    // Yom Kippur itself, 11:00 local
    expect(next('2026-09-21T08:00:00Z')).toBe('2026-09-22T06:00:00.000Z');
  });

  it('follows the clock into summer time (Friday 27 March 2026)', () => {
    // Thursday 26 March 20:30 local (UTC+2) → Friday 27 March 09:00 local, now UTC+3
    expect(next('2026-03-26T18:30:00Z')).toBe('2026-03-27T06:00:00.000Z');
  });

  it('follows the clock back to winter time (Sunday 25 October 2026)', () => {
    // Friday 23 Oct 13:30 local (UTC+3) → Sunday 25 Oct 09:00 local, now UTC+2
    expect(next('2026-10-23T10:30:00Z')).toBe('2026-10-25T07:00:00.000Z');
  });

  it('uses custom hours: several windows a day, Saturday evening, unsorted windows', () => {
    const custom: CallingHours = {
      '1': [
        { open: '16:00', close: '19:00' },
        { open: '10:00', close: '12:00' },
      ],
      '6': [{ open: '20:00', close: '22:00' }],
    };
    // Monday 23 Nov 2026 08:00 local → 10:00 local
    expect(next('2026-11-23T06:00:00Z', custom)).toBe('2026-11-23T08:00:00.000Z');
    // Monday 12:30 local, between the windows → 16:00 local
    expect(next('2026-11-23T10:30:00Z', custom)).toBe('2026-11-23T14:00:00.000Z');
    // Monday 19:00 local → Saturday 28 Nov 20:00 local
    expect(next('2026-11-23T17:00:00Z', custom)).toBe('2026-11-28T18:00:00.000Z');
  });

  it('throws a clear error when the hours have no window at all', () => {
    for (const empty of [{}, { '0': [] }, { '2': [{ open: '10:00', close: '10:00' }] }] as CallingHours[]) {
      let thrown: unknown;
      try {
        nextCallingTime(new Date('2026-11-24T08:00:00Z'), empty, zone);
      } catch (error) {
        thrown = error;
      }
      expect(isAppError(thrown, 'VALIDATION_FAILED')).toBe(true);
      expect((thrown as Error).message).toBe('calling hours have no window on any weekday');
    }
  });
});

describe('retryTime', () => {
  it('spaces the retry and keeps it inside the window', () => {
    // Tuesday 24 Nov 2026 10:00 local + 60 min → 11:00 local
    expect(retryTime(new Date('2026-11-24T08:00:00Z'), 1, DEFAULT_RETRY_POLICY, hours, zone)?.toISOString()).toBe('2026-11-24T09:00:00.000Z');
  });

  it('moves a retry that would fall after Thursday closing to Friday 09:00', () => {
    // Thursday 26 Nov 2026 19:30 local + 60 min = 20:30 local → Friday 27 Nov 09:00 local
    expect(retryTime(new Date('2026-11-26T17:30:00Z'), 1, DEFAULT_RETRY_POLICY, hours, zone)?.toISOString()).toBe('2026-11-27T07:00:00.000Z');
  });

  it('moves a retry that would fall on Saturday to Sunday 09:00', () => {
    // Friday 27 Nov 2026 12:30 local + 60 min = 13:30 local → Sunday 29 Nov 09:00 local
    expect(retryTime(new Date('2026-11-27T10:30:00Z'), 2, DEFAULT_RETRY_POLICY, hours, zone)?.toISOString()).toBe('2026-11-29T07:00:00.000Z');
  });

  it('moves a retry across the spring DST change', () => {
    // Thursday 26 March 2026 19:30 local (UTC+2) + 60 min → Friday 27 March 09:00 local (UTC+3)
    expect(retryTime(new Date('2026-03-26T17:30:00Z'), 1, DEFAULT_RETRY_POLICY, hours, zone)?.toISOString()).toBe('2026-03-27T06:00:00.000Z');
  });

  it('returns null once the policy has no attempts left', () => {
    const at = new Date('2026-11-24T08:00:00Z');
    expect(retryTime(at, 3, DEFAULT_RETRY_POLICY, hours, zone)).toBeNull();
    expect(retryTime(at, 4, DEFAULT_RETRY_POLICY, hours, zone)).toBeNull();
    expect(retryTime(at, 1, { maxAttempts: 1, spacingMinutes: 60 }, hours, zone)).toBeNull();
    // a custom spacing: Tuesday 10:00 local + 3 h → 13:00 local
    expect(retryTime(at, 1, { maxAttempts: 2, spacingMinutes: 180 }, hours, zone)?.toISOString()).toBe('2026-11-24T11:00:00.000Z');
  });

  it('has the documented defaults', () => {
    expect(DEFAULT_RETRY_POLICY).toEqual({ maxAttempts: 3, spacingMinutes: 60 });
    expect(DEFAULT_CALLING_HOURS['6']).toBeUndefined();
    expect(DEFAULT_CALLING_HOURS['5']).toEqual([{ open: '09:00', close: '13:00' }]);
  });
});
