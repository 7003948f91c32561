import { createHmac } from 'node:crypto';
import { secretsEqual } from '../../core/auth.ts';

/**
 * The short-lived token the voice webhook hands Twilio as a `<Parameter>` of the media
 * stream, so the websocket can prove which call it belongs to (Twilio's stream connection
 * carries no signature of its own). It names the rows the call context is loaded from, so
 * the media stream can load them all in one batched tick without a lookup first.
 */
export interface CallRef {
  callSid: string;
  callId: string;
  businessId: string;
  leadId: string | null;
  outboundJobId: string | null;
}

export interface StreamClaims extends CallRef {
  /** Expiry, seconds since the epoch. */
  exp: number;
}

export type TokenCheck = { ok: true; claims: StreamClaims } | { ok: false; reason: 'malformed' | 'bad-signature' | 'expired' };

/** Lifetime of a stream token: Twilio connects the stream within seconds of the webhook. */
export const streamTokenTtlSeconds = 120;

export function signStreamToken(claims: CallRef, secret: string, now = Date.now()): string {
  const body = Buffer.from(JSON.stringify({ ...claims, exp: Math.floor(now / 1000) + streamTokenTtlSeconds })).toString('base64url');
  return `${body}.${mac(body, secret)}`;
}

export function verifyStreamToken(token: unknown, secret: string, now = Date.now()): TokenCheck {
  if (typeof token !== 'string') return { ok: false, reason: 'malformed' };
  const [body, signature, extra] = token.split('.');
  if (!body || !signature || extra !== undefined) return { ok: false, reason: 'malformed' };
  if (!secretsEqual(signature, mac(body, secret))) return { ok: false, reason: 'bad-signature' };
  let claims: StreamClaims;
  try {
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as StreamClaims;
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (typeof claims.exp !== 'number' || claims.exp * 1000 < now) return { ok: false, reason: 'expired' };
  return { ok: true, claims };
}

function mac(body: string, secret: string): string {
  return createHmac('sha256', secret).update(`callwatch.stream.v1.${body}`).digest('base64url');
}
