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

/**
 * The `WWW-Authenticate` challenge every 401 carries (RFC 6750 §3): plain when the request
 * sent no credentials, with `error` when it sent some that were refused — `invalid_token`
 * (unknown, revoked, wrong) or `invalid_request` (not a Bearer header at all).
 */
export function bearerChallenge(realm: string, error?: 'invalid_token' | 'invalid_request'): string {
  return error === undefined ? `Bearer realm="${realm}"` : `Bearer realm="${realm}", error="${error}"`;
}
