/**
 * The silence watchdog of one call: when neither side has said anything for `timeoutMs`
 * — the caller silent, the agent not speaking — it asks the session to reprompt; after
 * `reprompts` reprompts without an answer it asks the session to say goodbye and hang up.
 * Caller speech resets it; agent speech pauses it. One timer at most; `stop()` clears it.
 */
export class SilenceWatchdog {
  readonly #timeoutMs: number;
  readonly #reprompts: number;
  readonly #onReprompt: (attempt: number) => void;
  readonly #onGiveUp: () => void;
  #timer: NodeJS.Timeout | undefined;
  #repromptsSent = 0;
  #callerSpeaking = false;
  #agentSpeaking = false;
  #stopped = false;

  constructor(options: { timeoutMs: number; reprompts: number; onReprompt: (attempt: number) => void; onGiveUp: () => void }) {
    this.#timeoutMs = options.timeoutMs;
    this.#reprompts = options.reprompts;
    this.#onReprompt = options.onReprompt;
    this.#onGiveUp = options.onGiveUp;
  }

  /** How many reprompts went out since the caller last spoke. */
  get repromptsSent(): number {
    return this.#repromptsSent;
  }

  callerStarted(): void {
    this.#callerSpeaking = true;
    this.#repromptsSent = 0;
    this.#disarm();
  }

  callerStopped(): void {
    this.#callerSpeaking = false;
    this.#arm();
  }

  agentStarted(): void {
    this.#agentSpeaking = true;
    this.#disarm();
  }

  /** The agent's audio has played out (Twilio returned its mark). */
  agentStopped(): void {
    this.#agentSpeaking = false;
    this.#arm();
  }

  stop(): void {
    this.#stopped = true;
    this.#disarm();
  }

  #arm(): void {
    this.#disarm();
    if (this.#stopped || this.#callerSpeaking || this.#agentSpeaking || this.#timeoutMs <= 0) return;
    this.#timer = setTimeout(() => this.#fire(), this.#timeoutMs);
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #fire(): void {
    this.#timer = undefined;
    if (this.#stopped) return;
    if (this.#repromptsSent >= this.#reprompts) {
      this.#stopped = true;
      return this.#onGiveUp();
    }
    this.#repromptsSent += 1;
    this.#onReprompt(this.#repromptsSent);
  }
}
