import DataLoader from 'dataloader';
import type { EntityName, FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Appointment } from '../entities/appointment.entity.ts';
import { BusinessSettings } from '../entities/business-settings.entity.ts';
import { Business } from '../entities/business.entity.ts';
import { Call } from '../entities/call.entity.ts';
import { Lead } from '../entities/lead.entity.ts';
import { OutboundCallJob } from '../entities/outbound-call-job.entity.ts';

/**
 * Batching loaders over one entity manager: every `load` issued in the same tick becomes
 * one query per loader, and the loaders' queries run side by side. One set serves one
 * GraphQL request or one call start — never longer, so nothing stale is cached.
 */
export interface Loaders {
  businessById: DataLoader<string, Business | null>;
  settingsByBusinessId: DataLoader<string, BusinessSettings | null>;
  leadById: DataLoader<string, Lead | null>;
  callById: DataLoader<string, Call | null>;
  outboundJobById: DataLoader<string, OutboundCallJob | null>;
  /** Booked appointments overlapping the window given at creation, by business, by start. */
  bookedAppointmentsByBusinessId: DataLoader<string, Appointment[]>;
}

export interface LoaderOptions {
  /** The window `bookedAppointmentsByBusinessId` covers; default now → 14 days ahead. */
  appointmentWindow?: { from: Date; to: Date };
}

export function createLoaders(em: EntityManager, options: LoaderOptions = {}): Loaders {
  const from = options.appointmentWindow?.from ?? new Date();
  const to = options.appointmentWindow?.to ?? new Date(from.getTime() + 14 * 86_400_000);
  return {
    businessById: byId(em, Business),
    leadById: byId(em, Lead),
    callById: byId(em, Call),
    outboundJobById: byId(em, OutboundCallJob),
    settingsByBusinessId: new DataLoader(async (businessIds) => {
      const rows = await em.find(BusinessSettings, { business: { $in: [...businessIds] } });
      const byBusiness = new Map(rows.map((row) => [row.business.id, row]));
      return businessIds.map((id) => byBusiness.get(id) ?? null);
    }),
    bookedAppointmentsByBusinessId: new DataLoader(async (businessIds) => {
      const rows = await em.find(
        Appointment,
        { business: { $in: [...businessIds] }, status: 'booked', startsAt: { $lt: to }, endsAt: { $gt: from } },
        { orderBy: { startsAt: 'asc' } },
      );
      return businessIds.map((id) => rows.filter((row) => row.business.id === id));
    }),
  };
}

function byId<T extends { id: string }>(em: EntityManager, entity: EntityName<T>): DataLoader<string, T | null> {
  return new DataLoader(async (ids) => {
    // The filter is typed for any entity with a string id; MikroORM cannot narrow it generically.
    const rows = (await em.find(entity, { id: { $in: [...ids] } } as unknown as FilterQuery<T>)) as T[];
    const found = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => found.get(id) ?? null);
  });
}
