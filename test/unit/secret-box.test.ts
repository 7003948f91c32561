import { describe, expect, it } from 'vitest';
import { isAppError } from '../../src/core/errors.ts';
import { SecretBox, isSealed } from '../../src/core/secret-box.ts';

/** Encryption at rest of webhook signing secrets (src/core/secret-box.ts), without a database. */

const keyA = 'a'.repeat(32);
const keyB = 'b'.repeat(32);
const business = '0b4c5b1e-7f51-4f43-9d39-1c0c6c1b3a11';
const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

describe('SecretBox', () => {
  it('seals to a versioned string with a fresh IV each time and opens it again', () => {
    const box = new SecretBox(keyA);
    const first = box.seal(secret, business);
    const second = box.seal(secret, business);
    expect(first).toMatch(new RegExp(`^v1:${box.keyId}:[\\w-]{16}:[\\w-]{22}:[\\w-]+$`));
    expect(first).not.toBe(second);
    expect(first).not.toContain('MfKQ9r8G');
    expect(isSealed(first)).toBe(true);
    expect(isSealed(secret)).toBe(false);
    expect(box.open(first, business)).toBe(secret);
    expect(box.isCurrent(first)).toBe(true);
  });

  it('refuses a value sealed with another APP_SECRET, naming APP_SECRET, and opens it with that key as APP_SECRET_PREVIOUS', () => {
    const sealed = new SecretBox(keyA).seal(secret, business);
    const wrong = (() => {
      try {
        new SecretBox(keyB).open(sealed, business);
      } catch (error) {
        return error;
      }
    })();
    expect(isAppError(wrong, 'CONFIG_INVALID')).toBe(true);
    expect((wrong as Error).message).toMatch(/APP_SECRET/);

    const rotating = new SecretBox(keyB, keyA);
    expect(rotating.open(sealed, business)).toBe(secret);
    expect(rotating.isCurrent(sealed)).toBe(false);
    expect(rotating.isCurrent(rotating.seal(secret, business))).toBe(true);
  });

  it('refuses a value that was altered or copied to another business: an error, never a wrong secret', () => {
    const box = new SecretBox(keyA);
    const sealed = box.seal(secret, business);
    const parts = sealed.split(':');
    const flipped = Buffer.from(parts[4]!, 'base64url');
    flipped[0]! ^= 1;
    const altered = [...parts.slice(0, 4), flipped.toString('base64url')].join(':');
    expect(() => box.open(altered, business)).toThrow(/failed authentication/);
    expect(() => box.open(sealed, '6f1d7a52-2b0e-4c1e-8f55-4a8e2d5b9c00')).toThrow(/failed authentication/);
  });

  it('gives each APP_SECRET its own stable key id', () => {
    expect(new SecretBox(keyA).keyId).not.toBe(new SecretBox(keyB).keyId);
    expect(new SecretBox(keyA).keyId).toBe(new SecretBox(keyA).keyId);
  });
});
