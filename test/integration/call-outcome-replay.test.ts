import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/logger.ts';
import { JobQueue } from '../../src/core/queue.ts';
import { Call } from '../../src/entities/call.entity.ts';
import { Lead } from '../../src/entities/lead.entity.ts';
import { persistCallOutcome, type CallEndWrite } from '../../src/realtime/call-outcome.ts';
import { useTestDatabase } from '../support/database.ts';
import { createBusiness, createCall, createLead } from '../support/factories.ts';

/**
 * A call's end written twice — a retry whose first attempt reached Postgres after all, or a
 * spill file replayed after the write went through — changes nothing the first did not:
 * the first end wins, the lead's notes are appended once, one pipeline job.
 */

const db = useTestDatabase();

describe('replaying a call\'s end', () => {
  let queue: JobQueue;
  beforeAll(async () => {
    queue = await JobQueue.start({ url: db.database.url, logger: createLogger({ level: 'silent' }) });
  });
  afterAll(() => queue?.stop(1000));

  it('writes the row, the lead and the pipeline job once', async () => {
    const business = await createBusiness(db.orm.em);
    const lead = await createLead(db.orm.em, business);
    const call = await createCall(db.orm.em, business.id, { lead: lead.id, status: 'in-progress', endedAt: null, durationSec: null });
    const write: CallEndWrite = {
      callId: call.id,
      leadId: lead.id,
      startedAt: new Date('2030-01-01T10:00:00Z'),
      endedAt: new Date('2030-01-01T10:04:00Z'),
      durationSec: 240,
      turns: [{ speaker: 'caller', text: 'אני רוצה תור', at: '2030-01-01T10:00:10.000Z' }],
      reason: 'caller hung up',
      failed: false,
      timeline: [],
      lead: { city: 'חיפה', notes: ['מעדיפה בוקר'] },
      recordingStarted: false,
      latency: null,
      usage: null,
    };
    await persistCallOutcome(db.orm, queue, write, { recordingCallbackGraceSec: 60 });
    await persistCallOutcome(db.orm, queue, { ...write, reason: 'server shutting down', durationSec: 1 }, { recordingCallbackGraceSec: 60 });

    const row = await db.orm.em.fork().findOneOrFail(Call, { id: call.id });
    expect(row).toMatchObject({ status: 'completed', endReason: 'caller hung up', durationSec: 240 });
    expect((await db.orm.em.fork().findOneOrFail(Lead, { id: lead.id })).notes).toBe('מעדיפה בוקר');
    const jobs = await db.orm.em.fork().execute<{ id: string }[]>(`select id from pgboss.job where name = 'call.process' and data->>'callId' = ?`, [call.id]);
    expect(jobs.map((job) => job.id)).toEqual([call.id]);
  });
});
