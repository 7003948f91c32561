import { describe, expect, it } from 'vitest';
import type { EntityManager } from '@mikro-orm/postgresql';
import { callStatuses, type CallStatus } from '../../src/entities/call.entity.ts';
import {
  closeLostCall,
  endCall,
  finalCallStatuses,
  mayFollow,
  openInboundCall,
  openOutboundCall,
  reportTwilioStatus,
  type CallEnd,
} from '../../src/entities/call-record.ts';
import { sql } from '../../src/entities/sql.ts';
import { twilioSid } from '../../src/sandbox/ids.ts';
import { eventually } from '../support/calls.ts';
import { useTestDatabase } from '../support/database.ts';
import { createBusiness, createCall, createLead } from '../support/factories.ts';

/**
 * The rules of the call row's owner (src/entities/call-record.ts), against real Postgres:
 * which status may follow which, what is final, who writes the end, and that the rules
 * hold when writers race (each write is one conditional statement).
 */

const db = useTestDatabase();

/** The rules, spelt out: for each status, the statuses that may follow it. */
const mayFollowTable: Record<CallStatus, CallStatus[]> = {
  queued: ['initiated', 'ringing', 'in-progress', ...finalCallStatuses],
  initiated: ['ringing', 'in-progress', ...finalCallStatuses],
  ringing: ['in-progress', ...finalCallStatuses],
  'in-progress': [...finalCallStatuses],
  completed: ['failed'],
  busy: [],
  'no-answer': [],
  failed: [],
  canceled: [],
};

const pairs = callStatuses.flatMap((current) => callStatuses.map((next) => ({ current, next, allowed: mayFollowTable[current].includes(next) })));

const twilioEnd = { endedAt: new Date('2030-01-01T10:05:00Z'), durationSec: 300 };

function sessionEnd(overrides: Partial<CallEnd> = {}): CallEnd {
  return {
    status: 'completed',
    reason: 'caller hung up',
    startedAt: new Date('2030-01-01T10:00:00Z'),
    endedAt: new Date('2030-01-01T10:04:00Z'),
    durationSec: 240,
    turns: [{ speaker: 'caller', text: 'שלום', at: '2030-01-01T10:00:01Z' }] as CallEnd['turns'],
    timeline: [],
    ...overrides,
  };
}

async function business(): Promise<string> {
  return (await createBusiness(db.orm.em)).id;
}

function row(callSid: string) {
  return sql(db.orm.em.fork()).selectFrom('Call').selectAll().where('callSid', '=', callSid).executeTakeFirstOrThrow();
}

/** Resolves once some backend waits for a row lock on `calls` (a writer blocked behind another's transaction). */
function blockedWriter() {
  return eventually(
    () => db.orm.em.fork().execute<{ n: number }[]>(`select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and query ilike '%"calls"%'`),
    (rows) => (rows[0]?.n ?? 0) > 0,
    'a writer blocked on the call row',
  );
}

/**
 * Runs `first` in a transaction that holds the call's row, starts `second` (which blocks
 * on the row), commits `first` once `second` waits, and returns both results.
 */
async function race<A, B>(first: (em: EntityManager) => Promise<A>, second: (em: EntityManager) => Promise<B>): Promise<[A, B]> {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let wrote!: () => void;
  const written = new Promise<void>((resolve) => (wrote = resolve));
  const a = db.orm.em.fork().transactional(async (tx) => {
    const result = await first(tx);
    wrote();
    await held;
    return result;
  });
  await written;
  const b = second(db.orm.em.fork());
  try {
    await blockedWriter();
  } finally {
    release();
  }
  return [await a, await b];
}

describe('call status rules', () => {
  it.each(pairs)('$current → $next: allowed $allowed', ({ current, next, allowed }) => {
    expect(mayFollow(current, next)).toBe(allowed);
  });

  it('a Twilio status callback applies the rules for every pair of statuses, in one statement against the row', async () => {
    const businessId = await business();
    const rows = await Promise.all(pairs.map((pair) => createCall(db.orm.em, businessId, { status: pair.current, endedAt: null, durationSec: null })));
    await Promise.all(pairs.map((pair, index) => reportTwilioStatus(db.orm.em.fork(), rows[index]!.callSid, pair.next, twilioEnd)));
    const stored = await Promise.all(rows.map((r) => row(r.callSid)));
    expect(stored.map((r, index) => ({ ...pairs[index], status: r.status }))).toEqual(
      pairs.map((pair) => ({ ...pair, status: pair.allowed ? pair.next : pair.current })),
    );
  });

  it('the session’s end applies the same rules to its status, from every status', async () => {
    const businessId = await business();
    const cases = callStatuses.flatMap((current) => (['completed', 'failed'] as const).map((next) => ({ current, next })));
    const rows = await Promise.all(cases.map(({ current }) => createCall(db.orm.em, businessId, { status: current, endedAt: null, durationSec: null })));
    const ended = await Promise.all(cases.map(({ next }, index) => endCall(db.orm.em.fork(), rows[index]!.id, sessionEnd({ status: next }))));
    expect(ended.every(Boolean)).toBe(true);
    const stored = await Promise.all(rows.map((r) => row(r.callSid)));
    expect(stored.map((r, index) => ({ ...cases[index], status: r.status, endReason: r.endReason }))).toEqual(
      cases.map(({ current, next }) => ({ current, next, status: mayFollow(current, next) ? next : current, endReason: 'caller hung up' })),
    );
  });
});

describe('who writes the end', () => {
  it('Twilio’s final callback fills in the end time and duration; a later session end replaces them and keeps `failed` over `completed`', async () => {
    const call = await createCall(db.orm.em, await business(), { status: 'in-progress', endedAt: null, durationSec: null });
    const reported = await reportTwilioStatus(db.orm.em.fork(), call.callSid, 'completed', twilioEnd);
    expect(reported).toMatchObject({ id: call.id, status: 'completed' });
    expect(await row(call.callSid)).toMatchObject({ status: 'completed', endedAt: twilioEnd.endedAt, durationSec: 300, endReason: null });

    expect(await endCall(db.orm.em.fork(), call.id, sessionEnd({ status: 'failed', reason: 'voice agent unavailable' }))).toBe(true);
    expect(await row(call.callSid)).toMatchObject({ status: 'failed', endedAt: sessionEnd().endedAt, durationSec: 240, endReason: 'voice agent unavailable' });

    // Twilio's `completed` again (a retried callback): nothing changes.
    expect((await reportTwilioStatus(db.orm.em.fork(), call.callSid, 'completed', { endedAt: new Date(), durationSec: 999 }))?.status).toBe('failed');
    expect(await row(call.callSid)).toMatchObject({ status: 'failed', endedAt: sessionEnd().endedAt, durationSec: 240 });
  });

  it('after the session’s end, Twilio’s final callback leaves its times, duration and status', async () => {
    const call = await createCall(db.orm.em, await business(), { status: 'in-progress', endedAt: null, durationSec: null });
    await endCall(db.orm.em.fork(), call.id, sessionEnd());
    await reportTwilioStatus(db.orm.em.fork(), call.callSid, 'no-answer', twilioEnd);
    expect(await row(call.callSid)).toMatchObject({ status: 'completed', endedAt: sessionEnd().endedAt, durationSec: 240, endReason: 'caller hung up' });
  });

  it('a second end changes nothing: the first end’s reason, times and transcript stay', async () => {
    const call = await createCall(db.orm.em, await business(), { status: 'in-progress', endedAt: null, durationSec: null });
    expect(await endCall(db.orm.em.fork(), call.id, sessionEnd())).toBe(true);
    expect(await endCall(db.orm.em.fork(), call.id, sessionEnd({ status: 'failed', reason: 'server shutting down', durationSec: 1, turns: [] }))).toBe(false);
    expect(await row(call.callSid)).toMatchObject({ status: 'completed', endReason: 'caller hung up', durationSec: 240, transcriptTurns: sessionEnd().turns });
  });

  it('a lost call is closed with Twilio’s end once, over Twilio’s callback, and never over a session’s end', async () => {
    const lostEnd = { status: 'completed' as const, startedAt: new Date('2030-01-01T10:00:00Z'), endedAt: new Date('2030-01-01T10:06:00Z'), durationSec: 360 };
    const call = await createCall(db.orm.em, await business(), { status: 'in-progress', startedAt: null, endedAt: null, durationSec: null });
    // Twilio's final callback came first: the sweep's close still writes Twilio's end and the reason.
    await reportTwilioStatus(db.orm.em.fork(), call.callSid, 'completed', twilioEnd);
    expect(await closeLostCall(db.orm.em.fork(), call.id, lostEnd)).toMatchObject({ id: call.id, status: 'completed', durationSec: 360 });
    expect(await row(call.callSid)).toMatchObject({ status: 'completed', startedAt: lostEnd.startedAt, endedAt: lostEnd.endedAt, durationSec: 360, endReason: 'lost: process ended' });
    // First end wins: a second close, or a session's end (a late replay), changes nothing.
    expect(await closeLostCall(db.orm.em.fork(), call.id, { ...lostEnd, durationSec: 1 })).toBeNull();
    expect(await endCall(db.orm.em.fork(), call.id, sessionEnd())).toBe(false);
    expect(await row(call.callSid)).toMatchObject({ durationSec: 360, endReason: 'lost: process ended' });

    const ended = await createCall(db.orm.em, await business(), { status: 'in-progress', endedAt: null, durationSec: null });
    await endCall(db.orm.em.fork(), ended.id, sessionEnd());
    expect(await closeLostCall(db.orm.em.fork(), ended.id, lostEnd)).toBeNull();
    expect(await row(ended.callSid)).toMatchObject({ endReason: 'caller hung up', durationSec: 240 });
  });

  it('a live status callback for a call Callwatch does not know writes nothing', async () => {
    expect(await reportTwilioStatus(db.orm.em.fork(), twilioSid('CA'), 'ringing', twilioEnd)).toBeNull();
    expect(await reportTwilioStatus(db.orm.em.fork(), twilioSid('CA'), 'completed', twilioEnd)).toBeNull();
  });
});

describe('the voice webhook’s write', () => {
  it('opens an inbound call once, moves an earlier row on to in-progress, and never reopens an ended call', async () => {
    const businessId = await business();
    const callSid = twilioSid('CA');
    const data = { business: businessId, lead: null, callSid, fromNumber: '+972501234567', toNumber: '+97233824100' };
    const opened = await openInboundCall(db.orm.em.fork(), data);
    expect(opened).toMatchObject({ lead: null, outboundJob: null });
    // Twilio retries the webhook: the same row.
    expect((await openInboundCall(db.orm.em.fork(), data))?.id).toBe(opened?.id);
    expect((await row(callSid)).status).toBe('in-progress');

    await endCall(db.orm.em.fork(), opened!.id, sessionEnd());
    expect(await openInboundCall(db.orm.em.fork(), data)).toBeNull();
    expect((await row(callSid)).status).toBe('completed');

    const ringing = await createCall(db.orm.em, businessId, { status: 'ringing', endedAt: null, durationSec: null });
    expect((await openInboundCall(db.orm.em.fork(), { ...data, callSid: ringing.callSid }))?.id).toBe(ringing.id);
    expect((await row(ringing.callSid)).status).toBe('in-progress');
  });

  it('an outbound call’s voice request keeps an AMD verdict already stored and does not reopen an ended call', async () => {
    const businessId = await business();
    const lead = await createLead(db.orm.em, { id: businessId });
    const job = await sql(db.orm.em.fork()).insertInto('OutboundCallJob').values({ business: businessId, lead: lead.id, purpose: 'call back', scheduledAt: new Date() }).returning('id').executeTakeFirstOrThrow();
    const call = await createCall(db.orm.em, businessId, { direction: 'outbound', lead: lead.id, outboundJob: job.id, status: 'ringing', endedAt: null, durationSec: null, answeredBy: 'human' });
    const data = { business: businessId, lead: lead.id, outboundJob: job.id, callSid: call.callSid, fromNumber: '+97233824100', toNumber: lead.phone, answeredBy: null };
    expect(await openOutboundCall(db.orm.em.fork(), data)).toEqual({ id: call.id });
    expect(await row(call.callSid)).toMatchObject({ status: 'in-progress', answeredBy: 'human' });
    await reportTwilioStatus(db.orm.em.fork(), call.callSid, 'completed', twilioEnd);
    expect(await openOutboundCall(db.orm.em.fork(), data)).toBeNull();
    expect((await row(call.callSid)).status).toBe('completed');
  });
});

describe('races between writers (each write is one conditional statement)', () => {
  it('two writers end the same call: the first end wins, the second, blocked behind it, writes nothing', async () => {
    const call = await createCall(db.orm.em, await business(), { status: 'in-progress', endedAt: null, durationSec: null });
    const [first, second] = await race(
      (em) => endCall(em, call.id, sessionEnd({ reason: 'caller hung up' })),
      (em) => endCall(em, call.id, sessionEnd({ status: 'failed', reason: 'lost: process ended', durationSec: 7 })),
    );
    expect([first, second]).toEqual([true, false]);
    expect(await row(call.callSid)).toMatchObject({ status: 'completed', endReason: 'caller hung up', durationSec: 240 });
  });

  it('a late `ringing` blocked behind `completed` is ignored once `completed` commits', async () => {
    // From `initiated`, `ringing` matches the row as it was: the writer waits for the row, then finds it completed.
    const call = await createCall(db.orm.em, await business(), { status: 'initiated', endedAt: null, durationSec: null });
    const [, late] = await race(
      (em) => reportTwilioStatus(em, call.callSid, 'completed', twilioEnd),
      (em) => reportTwilioStatus(em, call.callSid, 'ringing', twilioEnd),
    );
    expect(late).toBeNull();
    expect((await row(call.callSid)).status).toBe('completed');
  });

  it('Twilio’s `completed` blocked behind the session’s `failed` end keeps `failed` and the session’s times', async () => {
    const call = await createCall(db.orm.em, await business(), { status: 'in-progress', endedAt: null, durationSec: null });
    const [ended, reported] = await race(
      (em) => endCall(em, call.id, sessionEnd({ status: 'failed', reason: 'voice agent unavailable' })),
      (em) => reportTwilioStatus(em, call.callSid, 'completed', twilioEnd),
    );
    expect(ended).toBe(true);
    expect(reported?.status).toBe('failed');
    expect(await row(call.callSid)).toMatchObject({ status: 'failed', endedAt: sessionEnd().endedAt, durationSec: 240, endReason: 'voice agent unavailable' });
  });

  it('a replayed voice request blocked behind the end does not reopen the call', async () => {
    const businessId = await business();
    const call = await createCall(db.orm.em, businessId, { status: 'in-progress', endedAt: null, durationSec: null });
    const [, reopened] = await race(
      (em) => endCall(em, call.id, sessionEnd()),
      (em) => openInboundCall(em, { business: businessId, lead: null, callSid: call.callSid, fromNumber: call.fromNumber, toNumber: call.toNumber }),
    );
    expect(reopened).toBeNull();
    expect((await row(call.callSid)).status).toBe('completed');
  });
});
