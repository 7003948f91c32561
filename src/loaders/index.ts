import DataLoader from 'dataloader';
import type { EntityName } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Appointment } from '../entities/appointment.entity.ts';
import { BusinessSettings } from '../entities/business-settings.entity.ts';
import { Business } from '../entities/business.entity.ts';
import { Call } from '../entities/call.entity.ts';
import { Lead } from '../entities/lead.entity.ts';
import { OutboundCallJob } from '../entities/outbound-call-job.entity.ts';

/**
 * A row as the loaders return it: the entity's plain data, relations as their ids. Loaders
 * read rows, not managed entities — hydrating entities into an identity map costs several
 * times the query itself, and at call start that cost sits on the critical path.
 */
export type Row<T> = {
  [K in keyof T]: NonNullable<T[K]> extends { id: infer Id } ? Id | Extract<T[K], null | undefined> : T[K];
};

/**
 * Batching loaders over one entity manager: every `load` issued in the same tick becomes
 * one query per loader, and the loaders' queries run side by side. One set serves one
 * GraphQL request or one call start — never longer, so nothing stale is cached.
 */
export interface Loaders {
  businessById: DataLoader<string, Row<Business> | null>;
  settingsByBusinessId: DataLoader<string, Row<BusinessSettings> | null>;
  leadById: DataLoader<string, Row<Lead> | null>;
  callById: DataLoader<string, Row<Call> | null>;
  outboundJobById: DataLoader<string, Row<OutboundCallJob> | null>;
  /** Booked appointments overlapping the window given at creation, by business, by start. */
  bookedAppointmentsByBusinessId: DataLoader<string, Row<Appointment>[]>;
}

export interface LoaderOptions {
  /** The window `bookedAppointmentsByBusinessId` covers; default now → 14 days ahead. */
  appointmentWindow?: { from: Date; to: Date };
}

export function createLoaders(em: EntityManager, options: LoaderOptions = {}): Loaders {
  const from = options.appointmentWindow?.from ?? new Date();
  const to = options.appointmentWindow?.to ?? new Date(from.getTime() + 14 * 86_400_000);
  return {
    businessById: byKey(em, Business, 'id'),
    leadById: byKey(em, Lead, 'id'),
    callById: byKey(em, Call, 'id'),
    outboundJobById: byKey(em, OutboundCallJob, 'id'),
    settingsByBusinessId: byKey(em, BusinessSettings, 'business'),
    bookedAppointmentsByBusinessId: new DataLoader(async (businessIds) => {
      const rows = await rowsWhere(em, Appointment, {
        business: { $in: [...businessIds] },
        status: 'booked',
        startsAt: { $lt: to },
        endsAt: { $gt: from },
      });
      rows.sort((a, b) => a.startsAt.getTime() - b.startsAt.getTime());
      return businessIds.map((id) => rows.filter((row) => row.business === id));
    }),
  };
}

/** Rows of `entity` matching `where`, mapped to property names (one statement, no hydration). */
async function rowsWhere<T extends object>(em: EntityManager, entity: EntityName<T>, where: Record<string, unknown>): Promise<Row<T>[]> {
  // `where` is built by this module for the entity it names; the query builder cannot type it generically.
  return em.createQueryBuilder(entity).select('*').where(where as never).execute('all') as Promise<Row<T>[]>;
}

/** A loader of single rows by a unique column (`id`, or a one-to-one owner's foreign key). */
function byKey<T extends object>(em: EntityManager, entity: EntityName<T>, key: 'id' | 'business'): DataLoader<string, Row<T> | null> {
  return new DataLoader(async (keys) => {
    const rows = await rowsWhere(em, entity, { [key]: { $in: [...keys] } });
    const found = new Map(rows.map((row) => [(row as Record<string, unknown>)[key] as string, row]));
    return keys.map((value) => found.get(value) ?? null);
  });
}
