import { EventLog } from './event-log.ts';
import { twilioSid } from './ids.ts';
import { recordingResource, type CallState, type RecordingState } from './twilio-api.resources.ts';
import type { TwilioCallback } from './twilio-outbound.ts';
import { recordingCallbackParams } from './twilio-webhook.ts';
import { silentWavFile, wavDurationSec } from './wav.ts';

/**
 * The life of a call recording at Twilio: started through `POST …/Calls/{sid}/Recordings.json`,
 * `in-progress` while the call lasts, `processing` once the call ends, then — some seconds
 * later — `completed` with its media (or `absent` when nothing was recorded), and only then
 * the RecordingStatusCallback, sent once: Twilio does not retry a callback the application
 * failed to take, and now and then one never comes at all (`loseNextCallback`).
 */

/** What the application asked for when it started a recording. */
interface CallbackRequest {
  url: string | undefined;
  method: 'GET' | 'POST';
  events: Set<string>;
}

export interface CallRecordingsOptions {
  accountSid: string;
  /** The stand-in's base URL, for RecordingUrl (known only once it listens). */
  apiUrl: () => string;
  /** Sends one signed request to the application and logs it (kind `recording`); never throws. */
  deliver: (callSid: string, url: string, method: 'GET' | 'POST', params: Record<string, string>) => Promise<TwilioCallback>;
  /** How long Twilio takes from the call's end to a completed recording and its callback. */
  processingMs?: number;
}

/**
 * Twilio's processing time from a call's end to the recording callback: a few seconds for a
 * call of minutes (it grows with length; the stand-in keeps it fixed).
 */
export const DEFAULT_RECORDING_PROCESSING_MS = 3_000;

/** Below this, Twilio keeps no file: the recording is `absent` (ErrorCode 16101, too short). */
const SHORTEST_RECORDING_SEC = 1;

/** The recordings of one Twilio REST stand-in, from start to callback. `close()` drops what is pending. */
export class CallRecordings {
  /** Every recording, in the order started or added. */
  readonly all: RecordingState[] = [];
  /** SIDs of the recordings deleted through the API, in order. */
  readonly deleted: string[] = [];
  /** A snapshot of a recording each time its status changes (started, processing, completed, absent). */
  readonly updates = new EventLog<RecordingState>('Twilio recording update');
  #options: CallRecordingsOptions;
  #processingMs: number;
  #callbacks = new Map<string, CallbackRequest>();
  #audio = new Map<string, Buffer>();
  #lose = 0;
  #lost: string[] = [];
  #timers = new Set<NodeJS.Timeout>();
  #inflight = new Set<Promise<unknown>>();

  constructor(options: CallRecordingsOptions) {
    this.#options = options;
    this.#processingMs = options.processingMs ?? DEFAULT_RECORDING_PROCESSING_MS;
  }

  /** Recording SIDs whose callback was lost (never sent), in order. */
  get lost(): readonly string[] {
    return this.#lost;
  }

  /** Registers a recording as it stands (default: completed, 1 s of silence). */
  add(recording: { callSid: string; sid?: string; status?: RecordingState['status']; audio?: Buffer; durationSec?: number; channels?: 1 | 2 }): RecordingState {
    const channels = recording.channels ?? 1;
    const audio = recording.audio ?? silentWavFile(recording.durationSec ?? 1, { sampleRate: 8000, channels });
    const state: RecordingState = {
      sid: recording.sid ?? twilioSid('RE'),
      accountSid: this.#options.accountSid,
      callSid: recording.callSid,
      channels,
      track: 'both',
      status: recording.status ?? 'completed',
      createdAt: new Date(),
      audio,
      durationSec: recording.durationSec ?? wavDurationSec(audio),
    };
    this.#push(state);
    return state;
  }

  /** `POST …/Calls/{sid}/Recordings.json` on a call in progress: the recording runs until the call ends. */
  start(call: CallState, params: Record<string, string | string[]>): RecordingState {
    const state: RecordingState = {
      sid: twilioSid('RE'),
      accountSid: this.#options.accountSid,
      callSid: call.sid,
      channels: first(params.RecordingChannels) === 'dual' ? 2 : 1,
      track: first(params.RecordingTrack) ?? 'both',
      status: 'in-progress',
      createdAt: new Date(),
    };
    const events = list(params.RecordingStatusCallbackEvent);
    this.#callbacks.set(state.sid, {
      url: first(params.RecordingStatusCallback),
      method: first(params.RecordingStatusCallbackMethod) === 'GET' ? 'GET' : 'POST',
      // Twilio's default event is `completed` alone.
      events: new Set(events.length > 0 ? events : ['completed']),
    });
    this.#push(state);
    return state;
  }

  /** The media the call's recordings will hold (a WAV from `wav.ts`) instead of silence. */
  audioFor(callSid: string, wav: Buffer): void {
    this.#audio.set(callSid, wav);
  }

  /** The next recording callback due is never sent (each call loses one more). */
  loseNextCallback(): void {
    this.#lose++;
  }

  processIn(ms: number): void {
    this.#processingMs = ms;
  }

  /**
   * The call ended: its running recordings stop and go to `processing`; after the processing
   * time each is `completed` (or `absent`, under a second) and its callback goes out.
   */
  callEnded(callSid: string): void {
    const endedAt = new Date();
    for (const recording of this.all) {
      if (recording.callSid !== callSid || (recording.status !== 'in-progress' && recording.status !== 'paused')) continue;
      const recordedSec = (endedAt.getTime() - recording.createdAt.getTime()) / 1000;
      recording.status = 'processing';
      this.updates.push({ ...recording });
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        this.#track(this.#finish(recording, recordedSec));
      }, this.#processingMs);
      this.#timers.add(timer);
    }
  }

  /** The call's recordings, newest first, as Twilio lists them. */
  ofCall(callSid: string): RecordingState[] {
    return this.all.filter((recording) => recording.callSid === callSid).reverse();
  }

  find(sid: string): RecordingState | undefined {
    return this.all.find((recording) => recording.sid === sid);
  }

  /**
   * `DELETE …/Recordings/{sid}.json`: the recording and its media are gone — no longer
   * listed, fetched or downloadable. False when there is no such recording (Twilio's 404).
   */
  remove(sid: string): boolean {
    const index = this.all.findIndex((recording) => recording.sid === sid);
    if (index < 0) return false;
    const [recording] = this.all.splice(index, 1);
    if (recording) this.deleted.push(recording.sid);
    return true;
  }

  async close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await Promise.allSettled([...this.#inflight]);
    this.updates.close('stand-in closed');
  }

  async #finish(recording: RecordingState, recordedSec: number): Promise<void> {
    const given = this.#audio.get(recording.callSid);
    if (recordedSec < SHORTEST_RECORDING_SEC && !given) {
      Object.assign(recording, { status: 'absent', durationSec: 0 });
    } else {
      const audio = given ?? silentWavFile(Math.round(recordedSec), { sampleRate: 8000, channels: recording.channels });
      Object.assign(recording, { status: 'completed', audio, durationSec: wavDurationSec(audio) ?? recordedSec });
    }
    this.updates.push({ ...recording });
    const asked = this.#callbacks.get(recording.sid);
    if (!asked?.url || !asked.events.has(recording.status)) return;
    if (this.#lose > 0) {
      this.#lose--;
      this.#lost.push(recording.sid);
      return;
    }
    const params = recordingCallbackParams({
      accountSid: recording.accountSid,
      callSid: recording.callSid,
      recordingSid: recording.sid,
      status: recording.status === 'completed' ? 'completed' : 'absent',
      durationSec: recording.durationSec,
      channels: recording.channels,
      apiUrl: this.#options.apiUrl(),
    });
    // One attempt: an error answer or a time-out is logged by Twilio, not retried.
    await this.#options.deliver(recording.callSid, asked.url, asked.method, { ...params, RecordingTrack: recording.track });
  }

  #push(state: RecordingState): void {
    this.all.push(state);
    this.updates.push({ ...state });
  }

  #track(promise: Promise<unknown>): void {
    const tracked = promise.finally(() => this.#inflight.delete(tracked));
    this.#inflight.add(tracked);
  }
}

/**
 * A page of Twilio's 2010-04-01 list JSON (`recordings`, `page`, `page_size`, `start`, `end`,
 * `uri`, `first_page_uri`, `next_page_uri`, `previous_page_uri`), as the SDK's `.list()` and
 * `.each()` page through it. `path` is the list's path; `query` its filters (e.g. CallSid).
 */
export function recordingsPage(recordings: RecordingState[], path: string, query: Record<string, string>, paging: { page?: string; pageSize?: string }) {
  const pageSize = Math.min(1000, Math.max(1, Number.parseInt(paging.pageSize ?? '', 10) || 50));
  const page = Math.max(0, Number.parseInt(paging.page ?? '', 10) || 0);
  const start = page * pageSize;
  const items = recordings.slice(start, start + pageSize);
  const uri = (n: number) => `${path}?${new URLSearchParams({ ...query, PageSize: String(pageSize), Page: String(n) }).toString()}`;
  return {
    recordings: items.map((recording) => recordingResource(recording)),
    page,
    page_size: pageSize,
    start,
    end: start + Math.max(items.length - 1, 0),
    uri: uri(page),
    first_page_uri: uri(0),
    next_page_uri: start + pageSize < recordings.length ? uri(page + 1) : null,
    previous_page_uri: page > 0 ? uri(page - 1) : null,
  };
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** A repeated parameter's values; one value may also list several, space-separated. */
function list(value: string | string[] | undefined): string[] {
  return (Array.isArray(value) ? value : value === undefined ? [] : [value]).flatMap((item) => item.split(/\s+/)).filter(Boolean);
}
