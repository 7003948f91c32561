import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Lead } from './lead.entity.ts';

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
