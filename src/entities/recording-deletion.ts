import type twilio from 'twilio';
import type { Config } from '../core/config.ts';
import type { EntityManager } from '../core/db.ts';
import { AppError, describeError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { Metrics } from '../core/metrics.ts';
import { createTwilioClient } from '../core/twilio-client.ts';
import { forgetRecording } from './call-record.ts';
import { sql } from './sql.ts';

/** Recording deletions sent to Twilio at once. */
const DELETES_AT_ONCE = 4;

/** A call whose recording is to go: its id and the recording Twilio holds, if we know it. */
export interface RecordedCall {
  id: string;
  recordingSid: string | null;
}

export interface RecordingDeletionResult {
  /** Calls whose recording is gone now, at Twilio and here. */
  deleted: number;
  /** Calls whose recording Twilio did not confirm deleted (still kept: a later run tries again). */
  failed: number;
}

/**
 * Deletes recordings everywhere: at Twilio (`DELETE …/Recordings/{sid}.json`), then here —
 * the call's recording sid and URL cleared, its downloaded audio (call_recordings) deleted,
 * `recordingDeletedAt` set. The shared step of the retention job and `eraseLead`.
 *
 * Invariant: a call's row loses its recording sid only after Twilio confirmed the recording
 * gone (204, or 404: already gone), so a failure leaves it for the next run to try again.
 * Running it twice is harmless.
 */
export class RecordingDeletion {
  readonly #client: twilio.Twilio | null;
  readonly #logger: Logger;

  constructor(config: Config, logger: Logger, metrics?: Metrics) {
    const { accountSid, authToken, apiUrl } = config.twilio;
    this.#client = accountSid && authToken ? createTwilioClient({ accountSid, authToken, apiUrl, metrics }) : null;
    this.#logger = logger;
  }

  /** Deletes one recording at Twilio; 404 (code 20404: Twilio has no such recording) counts as deleted. */
  async deleteAtTwilio(recordingSid: string): Promise<void> {
    if (!this.#client) {
      throw new AppError('CONFIG_INVALID', 'recordings cannot be deleted at Twilio: TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set', { retryable: false });
    }
    try {
      await this.#client.recordings(recordingSid).remove();
    } catch (error) {
      if ((error as { status?: unknown }).status === 404) return;
      throw new AppError('UPSTREAM_FAILED', `deleting recording ${recordingSid} at Twilio: ${describeError(error)}`, { retryable: true, cause: error });
    }
  }

  /**
   * Deletes the recordings of `calls` at Twilio and here, DELETES_AT_ONCE at a time (a
   * backlog of thousands is not one request after another, nor a burst against Twilio's
   * rate limit).
   */
  async deleteRecordings(em: EntityManager, calls: readonly RecordedCall[]): Promise<RecordingDeletionResult> {
    const result: RecordingDeletionResult = { deleted: 0, failed: 0 };
    for (let start = 0; start < calls.length; start += DELETES_AT_ONCE) {
      const outcomes = await Promise.all(calls.slice(start, start + DELETES_AT_ONCE).map((call) => this.#deleteOne(em, call)));
      for (const deleted of outcomes) result[deleted ? 'deleted' : 'failed']++;
    }
    return result;
  }

  /** True when the call's recording is gone everywhere; false (logged) when Twilio did not confirm it. */
  async #deleteOne(em: EntityManager, call: RecordedCall): Promise<boolean> {
    try {
      if (call.recordingSid !== null) await this.deleteAtTwilio(call.recordingSid);
    } catch (error) {
      this.#logger.warn({ callId: call.id, recordingSid: call.recordingSid, err: describeError(error) }, 'recording not deleted at Twilio; kept for the next run');
      return false;
    }
    await markRecordingDeleted(em.fork(), call.id);
    return true;
  }
}

/** Forgets a call's recording here: sid, URL and downloaded audio; notes when. */
async function markRecordingDeleted(em: EntityManager, callId: string): Promise<void> {
  await em.transactional(async (tx) => {
    await sql(tx).deleteFrom('CallRecording').where('call', '=', callId).execute();
    await forgetRecording(tx, callId);
  });
}
