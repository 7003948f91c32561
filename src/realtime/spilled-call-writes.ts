import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { TranscriptTurn, CallEvent } from '../core/events.ts';
import type { CallLatency, CallUsage } from '../core/call-usage.ts';
import type { CallWrite } from './call-outcome.ts';

/**
 * End-of-call writes spilled to disk at shutdown because Postgres was unreachable:
 * DATA_DIR/pending-call-writes/<callId>.json, one file per call, written whole or not at
 * all (a temporary file renamed over it), readable by the process's user only. A file holds
 * what the call's row will hold (transcript, timeline, captured lead details, latency and
 * usage), nothing more.
 */
export const spillDirName = 'pending-call-writes';

/** A call answered while Postgres was unreachable: what its row is written from. */
const offlineOpen = z.object({
  businessId: z.uuid(),
  callSid: z.string(),
  fromNumber: z.string(),
  toNumber: z.string(),
  leadPhone: z.string().nullable(),
  arrivedAt: z.coerce.date(),
});

const endWrite = z.object({
  callId: z.uuid(),
  leadId: z.string().nullable(),
  startedAt: z.coerce.date(),
  endedAt: z.coerce.date(),
  durationSec: z.number(),
  // Written by this module from the call's own data; re-checked as arrays only.
  turns: z.array(z.unknown()).transform((turns) => turns as TranscriptTurn[]),
  reason: z.string(),
  failed: z.boolean(),
  timeline: z.array(z.unknown()).transform((events) => events as CallEvent[]),
  lead: z.object({ name: z.string().optional(), city: z.string().optional(), service: z.string().optional(), notes: z.array(z.string()).optional() }),
  recordingStarted: z.boolean(),
  // Measured by this process from the call's own events; a file spilled before they were
  // measured has neither (null: unknown, never made up).
  latency: z.record(z.string(), z.unknown()).nullish().transform((latency) => (latency ?? null) as CallLatency | null),
  usage: z.record(z.string(), z.unknown()).nullish().transform((usage) => (usage ?? null) as CallUsage | null),
  traceparent: z.string().optional(),
  open: offlineOpen.optional(),
});

/**
 * A spill file: a call's end (which carries its row's opening when the call was answered
 * offline), or only the opening of a call still on the line. A later write of a call
 * replaces its file: the end holds all the opening held.
 */
const spillFile = z.object({
  version: z.literal(1),
  write: z.union([z.object({ kind: z.literal('open'), callId: z.uuid(), open: offlineOpen }), endWrite]),
});

const dirOf = (dataDir: string) => join(dataDir, spillDirName);
const fileOf = (dataDir: string, callId: string) => join(dirOf(dataDir), `${callId}.json`);

/** Writes `write` to its spill file, atomically: a reader sees the whole file or none. */
export async function spillCallWrite(dataDir: string, write: CallWrite): Promise<void> {
  await mkdir(dirOf(dataDir), { recursive: true, mode: 0o700 });
  const file = fileOf(dataDir, write.callId);
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, JSON.stringify({ version: 1, write }), { mode: 0o600 });
  await rename(temporary, file);
}

/** Deletes the spill file of `callId` (none: nothing to do). */
export async function removeSpilledCallWrite(dataDir: string, callId: string): Promise<void> {
  await rm(fileOf(dataDir, callId), { force: true });
}

/** The spilled writes in DATA_DIR, and the files that could not be read as one (left in place). */
export async function readSpilledCallWrites(dataDir: string): Promise<{ writes: CallWrite[]; unreadable: string[] }> {
  const names = await readdir(dirOf(dataDir)).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  const writes: CallWrite[] = [];
  const unreadable: string[] = [];
  for (const name of names.filter((name) => name.endsWith('.json')).sort()) {
    const file = join(dirOf(dataDir), name);
    try {
      const parsed = spillFile.safeParse(JSON.parse(await readFile(file, 'utf8')));
      if (parsed.success && `${parsed.data.write.callId}.json` === name) writes.push(parsed.data.write);
      else unreadable.push(file);
    } catch {
      unreadable.push(file);
    }
  }
  return { writes, unreadable };
}
