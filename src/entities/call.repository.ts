import type { EntityManager } from '@mikro-orm/postgresql';
import { sql as raw } from 'kysely';
import { AppError } from '../core/errors.ts';
import { enqueuePipeline } from '../core/jobs.ts';
import type { JobQueue } from '../core/queue.ts';
import { reopenPipeline } from './call-record.ts';
import { callSearchExpression, type Call, type CallDirection, type CallStatus } from './call.entity.ts';
import { Lead } from './lead.entity.ts';
import { afterCursor, toPage, type Page, type PageRequest } from './page.ts';
import { likePattern } from './postgres-errors.ts';
import { jsonRowFrom, rowFromJson, sql, type Row } from './sql.ts';

export interface CallFilter {
  /** Calls created at or after. */
  from?: Date | null;
  /** Calls created before. */
  to?: Date | null;
  direction?: CallDirection | null;
  status?: CallStatus[] | null;
  leadId?: string | null;
  /** Extracted city, exactly. */
  city?: string | null;
  /** Extracted service category, exactly. */
  serviceCategory?: string | null;
  /** Words anywhere in the summary or the transcript (final or realtime), any case. */
  search?: string | null;
}

/** A page of calls, each with its lead's row (null for a call without a lead). */
export interface CallPage extends Page<Row<Call>> {
  leads: Row<Lead>[];
}

/**
 * A page of a business's calls, newest first — in ONE statement: the calls, each call's
 * lead (as JSON, so the caller can prime its lead loader) and, when asked, the number of
 * calls matching the filter (an uncorrelated sub-select Postgres runs once).
 */
export async function listCalls(em: EntityManager, businessId: string, filter: CallFilter, page: PageRequest): Promise<CallPage> {
  const db = sql(em);
  const matching = () => {
    let query = db.selectFrom('Call').where('business', '=', businessId);
    if (filter.from) query = query.where('createdAt', '>=', filter.from);
    if (filter.to) query = query.where('createdAt', '<', filter.to);
    if (filter.direction) query = query.where('direction', '=', filter.direction);
    if (filter.status?.length) query = query.where('status', 'in', filter.status);
    if (filter.leadId) query = query.where('lead', '=', filter.leadId);
    if (filter.city) query = query.where('extractedCity', '=', filter.city);
    if (filter.serviceCategory) query = query.where('extractedService', '=', filter.serviceCategory);
    if (filter.search) query = query.where(callSearchText, 'ilike', likePattern(filter.search));
    return query;
  };
  let query = matching()
    .selectAll('Call')
    .select((eb) => jsonRowFrom(eb.selectFrom('Lead').selectAll('Lead').whereRef('Lead.id', '=', 'Call.lead')).as('leadJson'));
  if (page.withTotal) {
    query = query.select((eb) => eb.selectFrom(() => matching().select('Call.id').as('matching')).select(eb.fn.countAll<string>().as('n')).as('totalCount'));
  }
  if (page.after) query = query.where(afterCursor('Call', page.after));
  const rows = await query.orderBy('createdAt', 'desc').orderBy('id', 'desc').limit(page.first + 1).execute();

  // An empty page has no row to carry the count.
  const totalCount = !page.withTotal ? null : rows.length > 0 ? Number((rows[0] as { totalCount?: string }).totalCount) : await countCalls();
  async function countCalls(): Promise<number> {
    const { n } = await matching().select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    return Number(n);
  }

  const leads = new Map<string, Row<Lead>>();
  const calls = rows.map(({ leadJson, ...call }) => {
    if (leadJson) {
      const lead = rowFromJson(em, Lead, leadJson);
      leads.set(lead.id, lead);
    }
    const { totalCount: _count, ...rest } = call as typeof call & { totalCount?: string };
    return rest as Row<Call>;
  });
  return { ...toPage(calls, page.first, totalCount), leads: [...leads.values()] };
}

/**
 * What text search looks at — the indexed expression, so the trigram index serves
 * `ilike '%…%'` (Hebrew included, which Postgres's full-text dictionaries do not stem).
 */
const callSearchText = raw<string>`(${raw.raw(callSearchExpression)})`;

/** A business's call by Twilio call SID, or null. */
export async function findCallBySid(em: EntityManager, businessId: string, callSid: string): Promise<Row<Call> | null> {
  const row = await sql(em).selectFrom('Call').selectAll().where('callSid', '=', callSid).where('business', '=', businessId).executeTakeFirst();
  return row ?? null;
}

export interface CallStats {
  total: number;
  byStatus: { status: CallStatus; count: number }[];
  byDirection: { direction: CallDirection; count: number }[];
  /** Over calls with a known duration; null when there are none. */
  averageDurationSec: number | null;
  topCities: { value: string; count: number }[];
  topServices: { value: string; count: number }[];
}

/** How many top cities and services `callStats` lists. */
export const topListSize = 5;

/** Counts of a business's calls created in [from, to), in one statement (grouping sets). */
export async function callStats(em: EntityManager, businessId: string, from: Date, to: Date): Promise<CallStats> {
  const rows = await sql(em)
    .selectFrom('Call')
    .select((eb) => [
      'status',
      'direction',
      'extractedCity',
      'extractedService',
      raw<number>`grouping(status, direction, extracted_city, extracted_service)`.as('grouping'),
      eb.fn.countAll<string>().as('count'),
      eb.fn.avg<string | null>('durationSec').as('averageDuration'),
    ])
    .where('business', '=', businessId)
    .where('createdAt', '>=', from)
    .where('createdAt', '<', to)
    .groupBy(raw`grouping sets ((status), (direction), (extracted_city), (extracted_service), ())`)
    .execute();
  // grouping() sets a bit for each column NOT grouped by: 0b0111 = only status, and so on.
  const set = (bits: number) => rows.filter((row) => Number(row.grouping) === bits);
  const top = (bits: number, key: 'extractedCity' | 'extractedService') =>
    set(bits)
      .filter((row) => row[key] !== null)
      .map((row) => ({ value: row[key] as string, count: Number(row.count) }))
      .sort((a, b) => b.count - a.count || a.value.localeCompare(b.value))
      .slice(0, topListSize);
  const all = set(0b1111)[0];
  return {
    total: Number(all?.count ?? 0),
    byStatus: set(0b0111).map((row) => ({ status: row.status, count: Number(row.count) })),
    byDirection: set(0b1011).map((row) => ({ direction: row.direction, count: Number(row.count) })),
    averageDurationSec: all?.averageDuration == null ? null : Math.round(Number(all.averageDuration) * 10) / 10,
    topCities: top(0b1101, 'extractedCity'),
    topServices: top(0b1110, 'extractedService'),
  };
}

/**
 * Runs a finished call's post-call pipeline again from the first step, as a new revision:
 * its results replace the call's and go out as a new `call.completed` webhook (a new
 * `webhook-id`, `revision` in the body). A run of the previous revision still in flight
 * stops at its next write. The revision bump and the job are one transaction.
 */
export async function reprocessCall(em: EntityManager, queue: JobQueue, businessId: string, callId: string): Promise<Row<Call>> {
  return em.transactional(async (tx) => {
    const call = await reopenPipeline(tx, businessId, callId);
    if (!call) {
      const existing = await sql(tx).selectFrom('Call').select(['status', 'contentDeletedAt']).where('id', '=', callId).where('business', '=', businessId).executeTakeFirst();
      if (!existing) throw new AppError('NOT_FOUND', 'no such call', { userMessage: 'No call with that id.' });
      if (existing.contentDeletedAt !== null) {
        throw new AppError('CONFLICT', 'call content deleted', { userMessage: 'The call’s transcript and summary were deleted (retention or erasure); there is nothing to process.' });
      }
      throw new AppError('CONFLICT', 'call still live', { userMessage: 'The call is still in progress; it is processed when it ends.' });
    }
    await enqueuePipeline(queue, call.id, tx, { revision: call.pipelineRevision });
    return call;
  });
}
