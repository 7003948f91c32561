import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { AppError } from '../core/errors.ts';
import { firstNameOf } from '../core/names.ts';
import { Lead, type Gender, type LeadStatus } from './lead.entity.ts';
import { fetchPage, type Page, type PageRequest } from './page.ts';
import { isUniqueViolation, likePattern } from './postgres-errors.ts';
import { hasChanges, sql, type Row } from './sql.ts';

/**
 * The lead with this phone number at this business, created when there is none. Two calls
 * from a new number at the same moment both end up with the one row (the unique key
 * decides; the loser reads the winner's row).
 */
export async function findOrCreateLead(em: EntityManager, businessId: string, phone: string): Promise<Lead> {
  const existing = await em.findOne(Lead, { business: businessId, phone });
  if (existing) return existing;
  try {
    return await em.fork().transactional(async (tx) => {
      const lead = tx.create(Lead, { business: businessId, phone });
      await tx.flush();
      return lead;
    });
  } catch (error) {
    if (!(error instanceof UniqueConstraintViolationException)) throw error;
    return em.findOneOrFail(Lead, { business: businessId, phone });
  }
}

/**
 * The id of the lead with `phone` at `businessId`, created if there is none, in one
 * statement inside the caller's transaction (findOrCreateLead opens its own).
 */
export async function ensureLead(em: EntityManager, businessId: string, phone: string): Promise<string> {
  const row = await sql(em)
    .with('created', (db) => db.insertInto('Lead').values({ business: businessId, phone }).onConflict((oc) => oc.columns(['business', 'phone']).doNothing()).returning('id'))
    .selectFrom('created')
    .select('id')
    .unionAll((db) => db.selectFrom('Lead').select('id').where('business', '=', businessId).where('phone', '=', phone))
    .executeTakeFirstOrThrow();
  return row.id;
}

/** Editable fields of a lead. `firstName` is never given: it is derived from `fullName`. */
export interface LeadFields {
  /** E.164. */
  phone?: string;
  fullName?: string | null;
  gender?: Gender | null;
  city?: string | null;
  serviceCategory?: string | null;
  status?: LeadStatus;
  notes?: string | null;
}

/** Creates a lead; a phone number the business already has is a CONFLICT. */
export async function createLead(em: EntityManager, businessId: string, fields: LeadFields & { phone: string }): Promise<Row<Lead>> {
  try {
    return await sql(em)
      .insertInto('Lead')
      .values({ ...fields, business: businessId, firstName: derivedFirstName(fields.fullName) })
      .returningAll()
      .executeTakeFirstOrThrow();
  } catch (error) {
    throw phoneTaken(error, fields.phone);
  }
}

/** Changes a lead of `businessId`; another business's lead is NOT_FOUND. */
export async function updateLead(em: EntityManager, businessId: string, leadId: string, fields: LeadFields): Promise<Row<Lead>> {
  const changes = { ...fields, ...(fields.fullName !== undefined ? { firstName: derivedFirstName(fields.fullName) } : {}) };
  try {
    const query = sql(em).updateTable('Lead').where('id', '=', leadId).where('business', '=', businessId);
    // With nothing to change, still answer with the lead (and still check it exists).
    const row = hasChanges(changes)
      ? await query.set(changes).returningAll().executeTakeFirst()
      : await sql(em).selectFrom('Lead').selectAll().where('id', '=', leadId).where('business', '=', businessId).executeTakeFirst();
    if (!row) throw new AppError('NOT_FOUND', 'no such lead', { userMessage: 'No lead with that id.' });
    return row;
  } catch (error) {
    throw fields.phone === undefined ? error : phoneTaken(error, fields.phone);
  }
}

export interface LeadFilter {
  status?: LeadStatus[] | null;
  city?: string | null;
  serviceCategory?: string | null;
  /** Part of the name or the phone number. */
  search?: string | null;
  createdFrom?: Date | null;
  createdTo?: Date | null;
}

/** A page of a business's leads, newest first. */
export async function listLeads(em: EntityManager, businessId: string, filter: LeadFilter, page: PageRequest): Promise<Page<Row<Lead>>> {
  const query = leadsMatching(em, businessId, filter);
  return fetchPage(query, 'Lead', page);
}

/** A business's leads matching `filter`, as a query to select from (lists, campaigns). */
export function leadsMatching(em: EntityManager, businessId: string, filter: LeadFilter) {
  let query = sql(em).selectFrom('Lead').where('business', '=', businessId);
  if (filter.status?.length) query = query.where('status', 'in', filter.status);
  if (filter.city) query = query.where('city', '=', filter.city);
  if (filter.serviceCategory) query = query.where('serviceCategory', '=', filter.serviceCategory);
  if (filter.createdFrom) query = query.where('createdAt', '>=', filter.createdFrom);
  if (filter.createdTo) query = query.where('createdAt', '<', filter.createdTo);
  if (filter.search) {
    const name = likePattern(filter.search);
    // Phones are stored as E.164: match on digits, so "050-123" finds +97250123….
    const digits = filter.search.replace(/\D/g, '').replace(/^0/, '');
    query = query.where((eb) => eb.or([eb('fullName', 'ilike', name), ...(digits ? [eb('phone', 'like', likePattern(digits))] : [])]));
  }
  return query;
}

function derivedFirstName(fullName: string | null | undefined): string | null {
  return fullName ? (firstNameOf(fullName) ?? null) : null;
}

function phoneTaken(error: unknown, phone: string | undefined): unknown {
  if (!isUniqueViolation(error, 'leads_business_phone_unique')) return error;
  return new AppError('CONFLICT', 'a lead with this phone number exists', {
    userMessage: `A lead with the phone number ${phone} already exists.`,
    cause: error,
  });
}
