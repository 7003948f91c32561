import type { Logger } from '../../core/logger.ts';
import { describeError } from '../../core/errors.ts';

/** How a call ended: the reason stored (Call.endReason), and whether the call failed. */
export interface Ending {
  reason: string;
  failed?: boolean;
}

/**
 * Why a call ended when Twilio ended its media stream and Callwatch had not asked it to:
 * Twilio's `stop` comes when the call ends at Twilio — the caller hung up (or their line
 * dropped); a close without a `stop` is a stream lost on the way, the call maybe still up.
 */
export const streamEndReasons = { stop: 'caller hung up', close: 'media stream lost' } as const;

/**
 * How long a Twilio stop or close that came while our own REST update was in flight waits
 * for its answer before the call is written anyway (with the intended reason).
 */
const defaultThroughTimeoutMs = 10_000;

/**
 * Which reason ends a call, and when it is written, when endings race: the first `end`
 * wins; an ending asked of Twilio (`endThrough`) claims the `stop` or close its REST update
 * causes, which often arrives before the REST answer. `finish` runs once, with the reason.
 */
export class CallEnding {
  #ending: Promise<void> | undefined;
  /** The ending asked of Twilio, settled once its REST call has answered (or timed out). */
  #through: Promise<Ending | null> | undefined;
  readonly #finish: (ending: Ending) => Promise<void>;
  readonly #log: Logger;
  readonly #throughTimeoutMs: number;

  constructor(finish: (ending: Ending) => Promise<void>, log: Logger, options: { throughTimeoutMs?: number } = {}) {
    this.#finish = finish;
    this.#log = log;
    this.#throughTimeoutMs = options.throughTimeoutMs ?? defaultThroughTimeoutMs;
  }

  /** The call has begun to end (or was never one). */
  get started(): boolean {
    return this.#ending !== undefined;
  }

  /** A socket that never became a call: it ends with nothing to finish. */
  abandon(): void {
    this.#ending ??= Promise.resolve();
  }

  /** Ends the call with `reason`, unless it is already ending. Idempotent: the first reason stays. */
  end(reason: string, failed = false): Promise<void> {
    this.#ending ??= this.#finish({ reason, failed });
    return this.#ending;
  }

  /**
   * Ends the phone call through Twilio's REST API, then the session. `act` makes the REST
   * call and says how the call ended (null: it did not, the call goes on); `intended` is
   * the reason meanwhile. Twilio ends the media stream when the update takes effect, often
   * before its REST answer arrives: a `stop` or close in between is this ending, not the
   * caller hanging up, and the call is written once `act` has settled, with what it recorded
   * (a `call.transfer`) in the timeline. `act` should not throw; if it does, the call goes on.
   */
  endThrough(intended: string, act: () => Promise<Ending | null>): Promise<void> {
    if (this.#ending) return this.#ending;
    const acting = act().catch((error: unknown) => {
      this.#log.error({ err: describeError(error) }, 'ending the call through Twilio failed');
      return null;
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<Ending>((resolve) => {
      timer = setTimeout(() => resolve({ reason: intended }), this.#throughTimeoutMs);
    });
    const through = Promise.race([acting, timedOut]).finally(() => clearTimeout(timer));
    this.#through = through;
    return acting.then((ending) => {
      if (this.#through === through) this.#through = undefined;
      return ending ? this.end(ending.reason, ending.failed) : (this.#ending ?? Promise.resolve());
    });
  }

  /**
   * Twilio ended the media stream (`stop`, or the socket closed). After our own REST update
   * that is its effect — the call ends as that update says, once it has answered; otherwise
   * the call ended at Twilio's side (streamEndReasons).
   */
  streamEnded(how: 'stop' | 'close'): Promise<void> {
    if (this.#ending) return this.#ending;
    const through = this.#through;
    if (!through) return this.end(streamEndReasons[how]);
    this.#ending = through.then((ending) => this.#finish({ reason: ending?.reason ?? streamEndReasons[how], failed: ending?.failed ?? false }));
    return this.#ending;
  }
}
