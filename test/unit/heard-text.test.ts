import { describe, expect, it } from 'vitest';
import { heardText } from '../../src/realtime/session/heard-text.ts';

describe('heard text of an interrupted agent turn', () => {
  it('keeps the whole words played before the interruption, in proportion to the audio', () => {
    const text = 'aaaa bbbb cccc dddd';
    expect(heardText(text, 0, 1900)).toBe('');
    expect(heardText(text, 700, 1900)).toBe('aaaa');
    expect(heardText(text, 950, 1900)).toBe('aaaa bbbb');
    expect(heardText(text, 1800, 1900)).toBe('aaaa bbbb cccc');
    expect(heardText(text, 1900, 1900)).toBe(text);
    expect(heardText(text, 2500, 1900)).toBe(text);
    expect(heardText(text, 100, 0)).toBe(text);
  });

  it('cuts Hebrew at word boundaries too', () => {
    const reply = 'בשמחה! באיזה יום נוח לך שנגיע לביקור הערכת מחיר?';
    const heard = heardText(reply, 2000, 4000);
    expect(reply.startsWith(heard)).toBe(true);
    expect(reply.charAt(heard.length)).toBe(' ');
    expect(heard.length).toBeGreaterThan(reply.length * 0.3);
    expect(heard.length).toBeLessThanOrEqual(reply.length * 0.5);
  });
});
