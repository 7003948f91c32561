import type { CallInstance } from 'twilio/lib/rest/api/v2010/account/call.js';
import { sql as raw } from 'kysely';
import { describeError } from '../core/errors.ts';
import type { CallEvent } from '../core/events.ts';
import type { Services } from '../core/services.ts';
import { createTwilioClient } from '../core/twilio-client.ts';
import { callStatuses, type CallStatus } from '../entities/call.entity.ts';
import { closeLostCall, isLiveCall, liveCallStatuses, lostCallEndReason, type LostEnd } from '../entities/call-record.ts';
import { sql } from '../entities/sql.ts';
import { reconcileJobId } from '../core/jobs.ts';
import { beatIntervalMs } from '../entities/instance-heartbeat.entity.ts';

/** How often a worker sweeps: half of LOST_CALL_AFTER_SEC, at most every 15 s. */
export function sweepIntervalMs(lostCallAfterSec: number): number {
  return Math.min(15_000, (lostCallAfterSec * 1000) / 2);
}

/** Calls looked at per sweep, at most. */
const batch = 100;

export interface LostCallSweep {
  stop: () => Promise<void>;
}

/** A call no live instance holds, and what is known of when it was last held. */
interface Lost {
  id: string;
  callSid: string;
  /** The dead holder's last beat; null when no instance ever listed it. */
  lastSeen: Date | null;
}

/**
 * The lost calls sweep, on every worker (an interval; several workers sweeping at once only
 * repeat each other's reads: the close is a first end, the pipeline's job one per call).
 *
 * A call is lost when the instance holding it stopped beating (its heartbeat older than
 * LOST_CALL_AFTER_SEC: SIGKILL, a lost host), or when no instance holds it while it is still
 * live and its row has not moved for twice that (its voice webhook answered but its stream
 * never reached an instance, or its instance died before listing it). Each is looked up at
 * Twilio: ended there, it is closed with Twilio's end time and duration; still in progress,
 * no agent is on it, so Callwatch hangs it up and closes it (ringing or queued: left alone,
 * not yet answered). Closed as `lost: process ended` (a first end: a session's own end
 * wins), announced on the bus (`liveCalls` drops it), and its pipeline starts as a recorded
 * call's does: the recording safety net, RECORDING_CALLBACK_GRACE_SEC later, takes the
 * recording from Twilio (or the transcript, with none).
 *
 * A heartbeat grows old while Postgres is down too, with its instance alive: the sweep
 * trusts the heartbeats only once it has itself reached Postgres for LOST_CALL_AFTER_SEC
 * without a break, so an outage closes no call.
 */
export function startLostCallSweep(services: Services): LostCallSweep {
  const { config, logger } = services;
  const thresholdMs = config.lostCallAfterSec * 1000;
  const { accountSid, authToken, apiUrl } = config.twilio;
  const twilio = accountSid && authToken ? createTwilioClient({ accountSid, authToken, apiUrl, metrics: services.metrics }) : null;
  /** Since when every sweep has reached Postgres; null after a failure. */
  let healthySince: number | null = null;
  let sweeping: Promise<void> = Promise.resolve();

  const sweep = async () => {
    const startedAt = Date.now();
    try {
      const lost = await findLost(startedAt);
      healthySince ??= startedAt;
      if (!lost || startedAt - healthySince < thresholdMs) return;
      for (const call of lost.calls) {
        await closeLost(call).catch((error: unknown) => {
          lost.unfinished.add(call.id);
          logger.warn({ callId: call.id, err: describeError(error) }, 'cannot close a lost call: the next sweep tries again');
        });
      }
      // A dead instance's row goes once its calls are closed.
      const done = lost.deadInstances.filter((instance) => !instance.callIds.some((id) => lost.unfinished.has(id))).map((instance) => instance.id);
      if (done.length > 0) await sql(services.orm.em.fork()).deleteFrom('InstanceHeartbeat').where('id', 'in', done).execute();
    } catch (error) {
      if (healthySince !== null) logger.warn({ err: describeError(error) }, 'lost calls sweep failed: the next one tries again');
      healthySince = null;
    }
  };

  async function findLost(now: number): Promise<{ calls: Lost[]; deadInstances: { id: string; callIds: string[] }[]; unfinished: Set<string> } | null> {
    const db = sql(services.orm.em.fork());
    const beats = await db.selectFrom('InstanceHeartbeat').select(['id', 'beatAt', 'callIds']).execute();
    const staleBefore = now - thresholdMs;
    const dead = beats.filter((beat) => beat.beatAt.getTime() < staleBefore);
    const lastSeen = new Map(dead.flatMap((beat) => beat.callIds.map((id) => [id, beat.beatAt] as const)));
    const deadIds = [...lastSeen.keys()];
    const ofDead =
      deadIds.length === 0 ? [] : await db.selectFrom('Call').select(['id', 'callSid']).where('id', 'in', deadIds).where('endReason', 'is', null).limit(batch).execute();
    // Held by no instance, read in the same statement as the heartbeats' lists (so every
    // statement of the sweep names instance_heartbeats: the call path's count leaves them out).
    const neverHeld = await db
      .selectFrom('Call')
      .select(['id', 'callSid'])
      .where('status', 'in', liveCallStatuses)
      .where('endReason', 'is', null)
      .where('updatedAt', '<', new Date(now - 2 * thresholdMs - beatIntervalMs(config.lostCallAfterSec)))
      .where(raw<boolean>`${raw.ref('id')}::text not in (select unnest(call_ids) from instance_heartbeats)`)
      .orderBy('updatedAt')
      .limit(batch)
      .execute();
    const calls = [...ofDead.map((call) => ({ ...call, lastSeen: lastSeen.get(call.id) ?? null })), ...neverHeld.map((call) => ({ ...call, lastSeen: null }))];
    return { calls, deadInstances: dead.map((beat) => ({ id: beat.id, callIds: beat.callIds })), unfinished: new Set() };
  }

  /** What Twilio says of the call's end, after hanging it up if it is still on; null while it has not been answered. */
  async function endAtTwilio(call: Lost): Promise<LostEnd | null> {
    const fallback: LostEnd = { status: 'completed', startedAt: null, endedAt: call.lastSeen ?? new Date(), durationSec: null };
    if (!twilio) return fallback;
    let found: CallInstance;
    try {
      found = await twilio.calls(call.callSid).fetch();
    } catch (error) {
      // Twilio does not know the call: nothing more to learn.
      if ((error as { status?: unknown }).status === 404) return fallback;
      throw error;
    }
    if (found.status === 'queued' || found.status === 'ringing') return null;
    if (found.status === 'in-progress') {
      // No agent is on the line any more: end it at Twilio too.
      logger.warn({ callId: call.id, callSid: call.callSid }, 'lost call still up at Twilio: hanging it up');
      found = await twilio.calls(call.callSid).update({ status: 'completed' });
    }
    const endedAt = found.endTime ?? new Date();
    const startedAt = found.startTime ?? null;
    const reported = found.duration === null || found.duration === undefined || found.duration === '' ? null : Number(found.duration);
    const durationSec = reported !== null && Number.isFinite(reported) ? reported : startedAt ? Math.max(0, Math.round((endedAt.getTime() - startedAt.getTime()) / 1000)) : null;
    return { status: asCallStatus(found.status), startedAt, endedAt, durationSec };
  }

  async function closeLost(call: Lost): Promise<void> {
    const end = await endAtTwilio(call);
    if (!end) return;
    const em = services.orm.em.fork();
    const closed = await em.transactional(async (tx) => {
      const row = await closeLostCall(tx, call.id, end);
      if (row) {
        const startAfter = new Date(Date.now() + config.twilio.recordingCallbackGraceSec * 1000);
        await services.queue.send('recording.reconcile', { callId: row.id }, { em: tx, startAfter, id: reconcileJobId(row.id) });
      }
      return row;
    });
    if (!closed) return;
    logger.warn({ callId: closed.id, callSid: closed.callSid, durationSec: closed.durationSec, endedAt: end.endedAt.toISOString() }, 'lost call closed: its instance ended');
    const status = closed.status === 'failed' ? 'failed' : 'completed';
    const event: CallEvent = { type: 'call.ended', callId: closed.id, callSid: closed.callSid, durationSec: closed.durationSec, reason: lostCallEndReason, status, at: end.endedAt.toISOString() };
    services.bus.publish('call:events', closed.id, event);
    services.bus.publish('business:calls', closed.business, event);
  }

  const timer = setInterval(() => {
    sweeping = sweeping.then(sweep);
  }, sweepIntervalMs(config.lostCallAfterSec));
  timer.unref();
  sweeping = sweep();
  return {
    async stop() {
      clearInterval(timer);
      await sweeping;
    },
  };
}

/** Twilio's status as a call status; a live one (the call was just hung up) as completed. */
function asCallStatus(status: string): CallStatus {
  const known = (callStatuses as readonly string[]).includes(status) ? (status as CallStatus) : 'completed';
  return isLiveCall(known) ? 'completed' : known;
}
