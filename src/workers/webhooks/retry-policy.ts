/** The longest wait between two attempts. */
const maxDelayMs = 2 * 60 * 60 * 1000;

/**
 * Delay before attempt `attempt + 1` after `attempt` failed (1-based): `base · 2^(attempt-1)`,
 * capped at 2 h, ±20 % jitter so receivers coming back from an outage are not hit by every
 * retry at once. A receiver's `Retry-After` is honoured when it asks for longer. With the
 * default 10 s base that is 10 s, 20 s, 40 s … 2 h, 2 h … — about 20 attempts in 24 h.
 */
export function retryDelayMs(attempt: number, baseMs: number, retryAfterMs: number | null, random = Math.random): number {
  const exponential = Math.min(maxDelayMs, baseMs * 2 ** Math.min(attempt - 1, 30));
  const jittered = Math.round(exponential * (0.8 + 0.4 * random()));
  return Math.min(maxDelayMs, Math.max(jittered, retryAfterMs ?? 0));
}

/** What an answer means: 2xx delivered; 4xx other than 408 and 429 will not change with a retry. */
export function classifyStatus(status: number | null): 'delivered' | 'failed' | 'retry' {
  if (status !== null && status >= 200 && status < 300) return 'delivered';
  if (status !== null && status >= 400 && status < 500 && status !== 408 && status !== 429) return 'failed';
  return 'retry';
}

/** `Retry-After` in milliseconds: seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(header: string | null, now = Date.now()): number | null {
  if (!header) return null;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}
