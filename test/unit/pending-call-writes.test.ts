import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Metrics } from '../../src/core/metrics.ts';
import { isConnectionError } from '../../src/entities/postgres-errors.ts';
import type { CallEndWrite, CallWrite } from '../../src/realtime/call-outcome.ts';
import { PendingCallWrites } from '../../src/realtime/pending-call-writes.ts';
import { readSpilledCallWrites } from '../../src/realtime/spilled-call-writes.ts';
import { eventually } from '../support/calls.ts';
import { callUsageAtEnd, emptyRealtimeTokens } from '../../src/core/call-usage.ts';
import { priceTable } from '../../src/core/prices.ts';
import { spillCallWrite } from '../../src/realtime/spilled-call-writes.ts';
import { writeFile } from 'node:fs/promises';
import { capturingLogger } from '../support/logs.ts';

/**
 * The end-of-call writes kept while Postgres is unreachable (the fault test
 * test/e2e/faults/postgres-outage-call.test.ts runs them against a real server): what is
 * retried, in which order, what is not, and the spill file's round trip.
 */

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const refused = Object.assign(new Error('boom'), { code: 'ECONNREFUSED' });
const duplicate = Object.assign(new Error('duplicate key value'), { code: '23505' });

function endOf(callId: string): CallEndWrite {
  return {
    callId,
    leadId: null,
    startedAt: new Date('2026-12-04T04:00:00Z'),
    endedAt: new Date('2026-12-04T04:01:00Z'),
    durationSec: 60,
    turns: [{ speaker: 'caller', text: 'אני רוצה תור', at: '2026-12-04T04:00:10.000Z' }],
    reason: 'caller hung up',
    failed: false,
    timeline: [],
    lead: { name: 'שרה כהן' },
    recordingStarted: false,
    latency: { greetingMs: 640, turns: 2, turnP50Ms: 750, turnP95Ms: 885, turnMaxMs: 900, openaiFirstAudioP50Ms: 420, openaiFirstAudioP95Ms: 480, interruptions: 1, turnMs: [600, 900] },
    usage: callUsageAtEnd(
      { ...emptyRealtimeTokens(), inputTokens: 900, inputAudioTokens: 600, inputTextTokens: 300, outputTokens: 400, outputAudioTokens: 380, outputTextTokens: 20 },
      { inputSec: 58.2, outputSec: 21.4 },
      'gpt-realtime-1.5',
      priceTable(),
    ),
  };
}

/** A queue whose database answers `outcome(write)` for each attempt; records what was written. */
function queueWith(outcome: (write: CallWrite) => Error | null) {
  const dataDir = mkdtempSync(join(tmpdir(), 'i19-pgdown-pending-'));
  dirs.push(dataDir);
  const written: string[] = [];
  const metrics = new Metrics();
  const { logger, lines } = capturingLogger('info');
  const queue = new PendingCallWrites({
    write: async (write) => {
      const error = outcome(write);
      if (error) throw error;
      written.push(write.callId);
    },
    logger,
    metrics,
    dataDir,
    baseDelayMs: 5,
    maxDelayMs: 20,
  });
  return { queue, written, metrics, lines, dataDir };
}

describe('PendingCallWrites', () => {
  it('tells connection errors (retried) from refusals (not)', () => {
    expect(isConnectionError(refused)).toBe(true);
    expect(isConnectionError(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBe(true);
    expect(isConnectionError(new Error('wrapped', { cause: new Error('Connection terminated unexpectedly') }))).toBe(true);
    expect(isConnectionError(duplicate)).toBe(false);
    expect(isConnectionError(new TypeError('x is undefined'))).toBe(false);
  });

  it('keeps the ends while Postgres is unreachable and writes them, oldest first, once it is back', async () => {
    let down = true;
    const { queue, written, metrics } = queueWith(() => (down ? refused : null));
    const call = ['00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002'];
    for (const callId of call) await queue.submit(endOf(callId));
    expect(queue.size).toBe(2);
    await eventually(() => metrics.get('call_writes_retried_total'), (n) => n >= 3, 'a few retries');
    expect(written).toEqual([]);
    down = false;
    await eventually(() => queue.size, (n) => n === 0, 'the pending ends written');
    expect(written).toEqual(call);
    expect(await metrics.render()).toContain('callwatch_call_writes_retried_total');
    await queue.close(100);
  });

  it('logs and drops a write the database refuses, without retrying it', async () => {
    const { queue, written, metrics, lines } = queueWith(() => duplicate);
    await queue.submit(endOf('00000000-0000-4000-8000-000000000003'));
    expect(queue.size).toBe(0);
    expect(written).toEqual([]);
    expect(metrics.get('call_writes_refused_total')).toBe(1);
    expect(metrics.get('call_writes_retried_total')).toBe(0);
    expect(lines.filter((line) => line.msg === 'failed to persist the call: the database refused the write')).toHaveLength(1);
  });

  it('spills what is pending at close, and a replay writes it and removes the file', async () => {
    const callId = '00000000-0000-4000-8000-000000000004';
    const down = queueWith(() => refused);
    await down.queue.submit(endOf(callId));
    await down.queue.close(50);
    expect(down.metrics.get('call_writes_spilled_total')).toBe(1);
    const spilled = await readSpilledCallWrites(down.dataDir);
    expect(spilled).toEqual({ writes: [endOf(callId)], unreadable: [] });

    const file = join(down.dataDir, 'pending-call-writes', `${callId}.json`);
    const written: string[] = [];
    const metrics = new Metrics();
    const replaying = new PendingCallWrites({ write: async (write) => void written.push(write.callId), logger: capturingLogger().logger, metrics, dataDir: down.dataDir });
    await replaying.submit(spilled.writes[0]!, true);
    expect(written).toEqual([callId]);
    expect(existsSync(file)).toBe(false);
    expect(metrics.get('call_writes_replayed_total')).toBe(1);
    await replaying.close(10);
  });

  it('spills a call answered offline as its end carrying its opening: one file, the later write replacing the earlier', async () => {
    const callId = '00000000-0000-4000-8000-000000000005';
    const open = { businessId: '00000000-0000-4000-8000-0000000000b1', callSid: `CA${'5'.repeat(32)}`, fromNumber: '+972501234567', toNumber: '+97231234567', leadPhone: '+972501234567', arrivedAt: new Date('2026-12-04T04:00:00Z') };
    const down = queueWith(() => refused);
    await down.queue.submit({ kind: 'open', callId, open });
    await down.queue.submit({ ...endOf(callId), open });
    await down.queue.close(50);
    expect(down.metrics.get('call_writes_spilled_total')).toBe(2);
    expect(await readSpilledCallWrites(down.dataDir)).toEqual({ writes: [{ ...endOf(callId), open }], unreadable: [] });

    const opening = queueWith(() => refused);
    await opening.queue.submit({ kind: 'open', callId, open });
    await opening.queue.close(50);
    expect(await readSpilledCallWrites(opening.dataDir)).toEqual({ writes: [{ kind: 'open', callId, open }], unreadable: [] });
  });

  it('a spill file carries the call\'s latency and usage; one spilled before they were measured reads them as null', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'i20-spill-usage-'));
    dirs.push(dataDir);
    const measured = endOf('00000000-0000-4000-8000-000000000005');
    await spillCallWrite(dataDir, measured);
    const older = endOf('00000000-0000-4000-8000-000000000006');
    const { latency: _latency, usage: _usage, ...withoutThem } = older;
    await writeFile(join(dataDir, 'pending-call-writes', `${older.callId}.json`), JSON.stringify({ version: 1, write: withoutThem }));
    const spilled = await readSpilledCallWrites(dataDir);
    expect(spilled.unreadable).toEqual([]);
    const writes = spilled.writes as CallEndWrite[];
    expect(writes[0]?.latency).toEqual(measured.latency);
    expect(writes[0]?.usage).toEqual(measured.usage);
    expect(writes[0]?.usage?.estimatedCostUsd).toBeGreaterThan(0);
    expect(writes[1]).toMatchObject({ callId: older.callId, latency: null, usage: null });
  });
});
