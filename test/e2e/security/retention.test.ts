import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueApiKey } from '../../../src/entities/api-key.repository.ts';
import { callStats } from '../../../src/entities/call.repository.ts';
import type { Call } from '../../../src/entities/call.entity.ts';
import { sql, type Row } from '../../../src/entities/sql.ts';
import type { JobContext } from '../../../src/core/queue.ts';
import { applyRetention } from '../../../src/workers/privacy/retention.job.ts';
import { createCall } from '../../support/factories.ts';
import { graphql } from '../../support/graphql.ts';
import { startPipelineHarness, type PipelineHarness } from '../../support/pipeline.ts';

/**
 * Threat: recordings, transcripts and summaries of callers kept forever — against Israel's
 * Privacy Protection Law (Amendment 13: data kept only as long as its purpose needs).
 * Defence: the daily `privacy.retention` job deletes recordings (at Twilio and here) after
 * the business's `recordingRetentionDays` (default 30) and clears transcripts, summaries,
 * extracted fields and timelines after `transcriptRetentionDays` (default 365); the calls
 * still count. A recording Twilio fails to delete is retried.
 */

const DAY = 86_400_000;
const daysAgo = (days: number) => new Date(Date.now() - days * DAY);

function jobContext(h: PipelineHarness): JobContext {
  return { jobId: 'test-retention', retryCount: 0, lastAttempt: false, signal: new AbortController().signal, logger: h.app.services.logger };
}

describe('retention of recordings and transcripts', () => {
  let h: PipelineHarness;
  const em = () => h.app.services.orm.em.fork();
  const reload = (id: string) => sql(em()).selectFrom('Call').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

  /** A call created `days` ago with a transcript, summary, fields and timeline, recorded at Twilio when `recorded`. */
  async function pastCall(days: number, recorded: boolean): Promise<{ call: Row<Call>; recordingSid: string | null }> {
    const content = {
      createdAt: daysAgo(days),
      summary: 'Michal has a leak in Tel Aviv',
      finalTranscript: 'Caller: I have a leak',
      extracted: { budget_nis: 500 },
      extractedCity: 'Tel Aviv',
      timeline: [{ type: 'tool', name: 'book_appointment', at: daysAgo(days).toISOString() }] as never,
      endReason: 'caller hung up',
    };
    if (!recorded) return { call: await createCall(em(), h.businessId, { ...content, lead: h.leadId }), recordingSid: null };
    const { call, recordingSid } = await h.recordedCall(content);
    await h.storeRecording(call, recordingSid);
    return { call, recordingSid };
  }

  beforeAll(async () => {
    h = await startPipelineHarness({ workers: false });
  });
  afterAll(() => h?.stop());

  it('is scheduled daily through pg-boss', async () => {
    const schedules = await h.app.services.orm.em.getConnection().execute<{ name: string; cron: string }[]>(`select name, cron from pgboss.schedule`);
    expect(schedules).toContainEqual(expect.objectContaining({ name: 'privacy.retention', cron: '30 2 * * *' }));
  });

  it('deletes old recordings at Twilio and here, keeps recent ones, clears old transcripts, and retries a Twilio 500', async () => {
    const oldA = await pastCall(40, true);
    const oldB = await pastCall(35, true);
    const recent = await pastCall(5, true);
    const ancient = await pastCall(400, false);
    const lastYear = await pastCall(100, false);
    const stats = () => callStats(em(), h.businessId, daysAgo(500), new Date());
    const before = await stats();
    const run = applyRetention(h.app.services);

    // The first delete at Twilio fails (500): that recording stays, the other goes, and the attempt fails so it is retried.
    h.twilioApi.failNext(500);
    await expect(run({}, jobContext(h))).rejects.toMatchObject({ code: 'UPSTREAM_FAILED', retryable: true });
    expect(h.twilioApi.deletedRecordings).toHaveLength(1);
    // The retry deletes the one left.
    await run({}, jobContext(h));
    expect([...h.twilioApi.deletedRecordings].sort()).toEqual([oldA.recordingSid, oldB.recordingSid].sort());

    for (const { call, recordingSid } of [oldA, oldB]) {
      const row = await reload(call.id);
      expect(row).toMatchObject({ recordingSid: null, recordingUrl: null });
      expect(row.recordingDeletedAt).toBeInstanceOf(Date);
      expect(h.twilioApi.recordings.some((recording) => recording.sid === recordingSid)).toBe(false);
      expect(await sql(em()).selectFrom('CallRecording').select('call').where('call', '=', call.id).execute()).toEqual([]);
    }
    const kept = await reload(recent.call.id);
    expect(kept).toMatchObject({ recordingSid: recent.recordingSid, recordingDeletedAt: null, summary: 'Michal has a leak in Tel Aviv' });
    expect(h.twilioApi.recordings.some((recording) => recording.sid === recent.recordingSid)).toBe(true);
    expect(await sql(em()).selectFrom('CallRecording').select('call').where('call', '=', recent.call.id).execute()).toHaveLength(1);

    // Older than a year: the content is gone, the anonymous facts stay.
    const cleared = await reload(ancient.call.id);
    expect(cleared).toMatchObject({ summary: null, finalTranscript: null, extracted: null, transcriptTurns: [], timeline: [], endReason: 'caller hung up', durationSec: 60, status: 'completed' });
    expect(cleared.contentDeletedAt).toBeInstanceOf(Date);
    expect(await reload(lastYear.call.id)).toMatchObject({ summary: 'Michal has a leak in Tel Aviv', contentDeletedAt: null });
    expect(await reload(oldA.call.id)).toMatchObject({ summary: 'Michal has a leak in Tel Aviv' });

    // Every call still counts.
    const after = await stats();
    expect({ total: after.total, byStatus: after.byStatus, byDirection: after.byDirection }).toEqual({ total: before.total, byStatus: before.byStatus, byDirection: before.byDirection });

    // Idempotent: a second run asks Twilio nothing more and changes nothing.
    const requests = h.twilioApi.requests.length;
    await run({}, jobContext(h));
    expect(h.twilioApi.requests.length).toBe(requests);
  });

  it('follows the business’s settings, which an admin sets and which are validated', async () => {
    const admin = (await issueApiKey(em(), { businessId: h.businessId, role: 'admin', name: 'admin' })).key;
    const update = (input: Record<string, unknown>) =>
      graphql(h.app.url, admin, `mutation ($input: UpdateBusinessSettingsInput!) { updateBusinessSettings(input: $input) { __typename ... on BusinessSettings { recordingRetentionDays transcriptRetentionDays } ... on ValidationError { fieldErrors { path message } } } }`, { input });

    const settings = await graphql(h.app.url, admin, '{ viewer { business { settings { recordingRetentionDays transcriptRetentionDays } } } }');
    expect(settings.data?.viewer.business.settings).toEqual({ recordingRetentionDays: 30, transcriptRetentionDays: 365 });
    for (const input of [{ recordingRetentionDays: 0 }, { transcriptRetentionDays: 3651 }, { recordingRetentionDays: null }]) {
      const refused = await update(input);
      expect(refused.data?.updateBusinessSettings.__typename).toBe('ValidationError');
    }
    expect((await update({ transcriptRetentionDays: 90, recordingRetentionDays: 3 })).data?.updateBusinessSettings).toEqual({
      __typename: 'BusinessSettings',
      recordingRetentionDays: 3,
      transcriptRetentionDays: 90,
    });

    const monthsOld = await pastCall(100, false);
    const fourDays = await pastCall(4, true);
    await applyRetention(h.app.services)({}, jobContext(h));
    expect(await reload(monthsOld.call.id)).toMatchObject({ summary: null });
    // Nothing is left to process again: reprocessing a cleared call is refused.
    const reprocess = await graphql(h.app.url, admin, 'mutation ($id: ID!) { reprocessCall(callId: $id) { __typename ... on Error { message } } }', { id: monthsOld.call.id });
    expect(reprocess.data?.reprocessCall.__typename).toBe('ConflictError');
    expect(await reload(fourDays.call.id)).toMatchObject({ recordingSid: null });
    expect(h.twilioApi.deletedRecordings).toContain(fourDays.recordingSid);
  });
});
