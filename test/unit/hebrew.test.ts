import { describe, expect, it } from 'vitest';
import { firstNameOf } from '../../src/core/names.ts';
import { normalizePhone } from '../../src/core/phone.ts';
import { zonedDate, zonedDateTime } from '../../src/core/time.ts';

describe('phone numbers', () => {
  it.each([
    ['050-123-4567', '+972501234567'],
    ['0501234567', '+972501234567'],
    ['+972 50 123 4567', '+972501234567'],
    ['03-1234567', '+97231234567'],
    ['+1 (415) 555-0100', '+14155550100'],
  ])('normalises %s to E.164', (input, expected) => {
    expect(normalizePhone(input)).toBe(expected);
  });

  it.each(['Anonymous', '', '12', 'not a number'])('rejects %j', (input) => {
    expect(normalizePhone(input)).toBeUndefined();
  });
});

describe('first names', () => {
  it.each([
    ['משה כהן', 'משה'],
    ['ד"ר שרה לוי', 'שרה'],
    ['ד״ר שרה לוי', 'שרה'],
    ['גב\' רחל אברהם', 'רחל'],
    ['הרב יוסף מזרחי', 'יוסף'],
    ['עו"ד דנה ברק', 'דנה'],
    ['מר  אבי   ביטון', 'אבי'],
    ['Dr. Jane Doe', 'Jane'],
    ['Mrs Smith', 'Smith'],
  ])('finds the first name in %j', (fullName, expected) => {
    expect(firstNameOf(fullName)).toBe(expected);
  });

  it('returns nothing for titles alone or no name', () => {
    expect(firstNameOf('ד"ר')).toBeUndefined();
    expect(firstNameOf('')).toBeUndefined();
    expect(firstNameOf(null)).toBeUndefined();
  });
});

describe('time zones', () => {
  it('turns Israeli wall-clock times into instants, winter and summer', () => {
    expect(zonedDateTime('2026-12-01', '10:00', 'Asia/Jerusalem').toISOString()).toBe('2026-12-01T08:00:00.000Z');
    expect(zonedDateTime('2026-07-01', '10:00', 'Asia/Jerusalem').toISOString()).toBe('2026-07-01T07:00:00.000Z');
    expect(zonedDate(new Date('2026-12-01T23:30:00Z'), 'Asia/Jerusalem')).toBe('2026-12-02');
  });
});
