import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const apiKeyRoles = ['admin', 'supervisor', 'viewer'] as const;
export type ApiKeyRole = (typeof apiKeyRoles)[number];

export interface GeneratedApiKey {
  /** The secret shown once to the person who created the key; never stored. */
  key: string;
  /** The first characters, stored so people can tell their keys apart. */
  prefix: string;
  /** SHA-256 of the key, the only form that is stored. */
  hash: string;
}

/**
 * Generates an API key. Keys carry 192 random bits, so a fast hash is enough to store them
 * (no password-style stretching needed), and lookups by hash stay a single index probe.
 */
export function generateApiKey(): GeneratedApiKey {
  const key = `cw_${randomBytes(24).toString('base64url')}`;
  return { key, prefix: key.slice(0, 10), hash: hashApiKey(key) };
}

/** The stored form of an API key. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** Compares two secrets in constant time. */
export function secretsEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
