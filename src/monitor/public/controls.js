import { ApiError } from './api.js';
import { byId } from './dom.js';
import { t } from './i18n.js';

/**
 * The supervisor's controls for a live call: whisper to the agent, transfer, hang up.
 * Each answer — done, or why not (the call already ended, Twilio refused) — is spoken by
 * the status line next to them. Hang-up asks for a second press within 4 s: one stray
 * keypress must not end a customer's call.
 */

const results = /* GraphQL */ `
  ... on SupervisorActionResult { acted error }
  ... on Error { message }
`;

const mutations = {
  whisper: `mutation Whisper($callId: ID!, $text: String!) { result: whisperToAgent(callId: $callId, text: $text) { ${results} } }`,
  transfer: `mutation Transfer($callId: ID!, $to: String!) { result: transferCall(callId: $callId, to: $to) { ${results} } }`,
  hangup: `mutation HangUp($callId: ID!) { result: hangUpCall(callId: $callId) { ${results} } }`,
};

export class CallControls {
  #api;
  #callId;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #disarm;

  /**
   * @param {{ request: (query: string, variables: Record<string, unknown>) => Promise<any> }} api
   * @param {() => string | undefined} callId the call the panel shows
   */
  constructor(api, callId) {
    this.#api = api;
    this.#callId = callId;
    byId('whisper-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const input = /** @type {HTMLTextAreaElement} */ (byId('whisper-text'));
      const text = input.value.trim();
      if (text) void this.#send('whisper', { text }, () => void (input.value = ''));
    });
    byId('whisper-text').addEventListener('keydown', (event) => {
      // Enter sends; Shift+Enter makes a new line.
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        /** @type {HTMLFormElement} */ (byId('whisper-form')).requestSubmit();
      }
    });
    byId('transfer-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const to = /** @type {HTMLInputElement} */ (byId('transfer-to')).value.trim();
      if (to) void this.#send('transfer', { to });
    });
    byId('hang-up').addEventListener('click', () => this.#hangUp());
  }

  /**
   * Enables the controls for a live call the key may steer; otherwise says why not.
   *
   * @param {{ live: boolean; mayAct: boolean }} state
   */
  update({ live, mayAct }) {
    byId('controls-fieldset').toggleAttribute('disabled', !(live && mayAct));
    byId('controls-note').hidden = mayAct;
    if (!live) this.#resetHangUp();
  }

  #hangUp() {
    const button = byId('hang-up');
    if (button.dataset.armed !== 'true') {
      button.dataset.armed = 'true';
      button.textContent = t('controls.confirmHangUp');
      this.#disarm = setTimeout(() => this.#resetHangUp(), 4_000);
      return;
    }
    this.#resetHangUp();
    void this.#send('hangup', {});
  }

  #resetHangUp() {
    clearTimeout(this.#disarm);
    const button = byId('hang-up');
    delete button.dataset.armed;
    button.textContent = t('controls.hangUp');
  }

  /**
   * @param {keyof typeof mutations} action
   * @param {Record<string, string>} variables
   * @param {() => void} [onDone]
   */
  async #send(action, variables, onDone) {
    const callId = this.#callId();
    if (!callId) return;
    const status = byId('controls-status');
    status.textContent = t('controls.sending');
    status.dataset.outcome = 'pending';
    try {
      const { result } = await this.#api.request(mutations[action], { callId, ...variables });
      if (result.acted) {
        status.textContent = t('controls.done', { action: t(action === 'whisper' ? 'controls.sendWhisper' : action === 'transfer' ? 'controls.transfer' : 'controls.hangUp') });
        status.dataset.outcome = 'done';
        onDone?.();
      } else {
        status.textContent = t('controls.notDone', { error: result.error ?? result.message ?? '' });
        status.dataset.outcome = 'failed';
      }
    } catch (error) {
      status.textContent = t('controls.notDone', { error: error instanceof ApiError || error instanceof Error ? error.message : String(error) });
      status.dataset.outcome = 'failed';
    }
  }
}
