import { createHmac, randomUUID } from 'node:crypto';
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
  /** This token's own id: a token opens one media stream (see UsedStreamTokens). */
  jti: string;
}

export type TokenCheck = { ok: true; claims: StreamClaims } | { ok: false; reason: 'malformed' | 'bad-signature' | 'expired' | 'reused' };

/** Lifetime of a stream token: Twilio connects the stream within seconds of the webhook. */
export const streamTokenTtlSeconds = 120;

export function signStreamToken(claims: CallRef, secret: string, now = Date.now()): string {
  const body = Buffer.from(JSON.stringify({ ...claims, exp: Math.floor(now / 1000) + streamTokenTtlSeconds, jti: randomUUID() })).toString('base64url');
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
  // A token signed before tokens had ids (a deploy within its lifetime): its MAC is unique enough.
  if (typeof claims.jti !== 'string' || !claims.jti) claims.jti = signature;
  return { ok: true, claims };
}

/**
 * The ids of the stream tokens that opened a media stream on this instance, each kept
 * until its token expires (after that the token is refused as expired anyway), so memory
 * is bounded by the tokens issued in one lifetime. A token is bound to the first socket
 * that presents it: a second one while the call is live, or one after it ended, is
 * refused before it opens an OpenAI session or writes anything. No database: the call
 * path makes no statement.
 *
 * Not covered: several instances behind a load balancer. Each knows only the tokens it
 * saw, so a token replayed to another instance within its 2 minutes still opens one more
 * stream there (one per instance at most). Closing that needs a shared claim (Redis
 * SET NX with the token's expiry); the Redis bus is publish/subscribe only today.
 */
export class UsedStreamTokens {
  /** jti → expiry (ms). Every token lives as long, so insertion order is expiry order. */
  #used = new Map<string, number>();

  /** True the first time `claims` are presented (the caller may go on); false for a reuse. */
  claim(claims: StreamClaims, now = Date.now()): boolean {
    this.#sweep(now);
    if (this.#used.has(claims.jti)) return false;
    this.#used.set(claims.jti, claims.exp * 1000);
    return true;
  }

  get size(): number {
    return this.#used.size;
  }

  #sweep(now: number): void {
    for (const [jti, expiresAt] of this.#used) {
      if (expiresAt >= now) return;
      this.#used.delete(jti);
    }
  }
}

function mac(body: string, secret: string): string {
  return createHmac('sha256', secret).update(`callwatch.stream.v1.${body}`).digest('base64url');
}
