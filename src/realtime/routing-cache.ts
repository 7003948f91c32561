import type { EntityName } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Orm } from '../core/db.ts';
import { describeError } from '../core/errors.ts';
import type { EventBus } from '../core/events.ts';
import type { Logger } from '../core/logger.ts';
import { Appointment } from '../entities/appointment.entity.ts';
import { BusinessSettings } from '../entities/business-settings.entity.ts';
import { Business } from '../entities/business.entity.ts';
import { PhoneNumber } from '../entities/phone-number.entity.ts';
import type { Row } from '../entities/sql.ts';
import { slotDays } from './call-context.ts';

/** What a call to one of a business's numbers needs to be answered without the database. */
export interface RoutedBusiness {
  business: Row<Business>;
  settings: Row<BusinessSettings>;
  /** The business's numbers (E.164), sorted: the countries a transfer may reach. */
  phoneNumbers: string[];
  /** Booked appointments from the last refresh on, for the free slots the agent offers. */
  booked: Row<Appointment>[];
}

/** Every statement of the cache carries this comment, so tests that count a call's statements can tell them apart. */
export const routingCacheComment = 'routing cache';

export interface RoutingCacheOptions {
  orm: Orm;
  logger: Logger;
  bus: EventBus;
  /** How often the whole cache is reloaded (ROUTING_CACHE_REFRESH_SEC); it is reloaded on a change, too. */
  refreshMs: number;
}

/**
 * Routing and settings of every business with a number, held in memory so that a call
 * arriving while Postgres is unreachable is still answered by the agent (the voice webhook
 * falls back to it only then: normally a call reads the database, which is always fresh).
 * Loaded at start, reloaded every `refreshMs` and, for one business, when the bus says its
 * settings changed (`business:routing`). Five statements a reload, on a timer of its own,
 * never on a call's path; a reload that fails keeps what was loaded before.
 */
export class RoutingCache {
  readonly #options: RoutingCacheOptions;
  #byNumber = new Map<string, RoutedBusiness>();
  #timer: NodeJS.Timeout | undefined;
  readonly #events: AsyncIterableIterator<{ businessId: string }>;
  #loading: Promise<void> = Promise.resolve();
  /** The last reload failed: logged once, not every `refreshMs`, until one succeeds. */
  #failing = false;

  constructor(options: RoutingCacheOptions) {
    this.#options = options;
    const events = options.bus.subscribe('business:routing')[Symbol.asyncIterator]() as AsyncIterableIterator<{ businessId: string }>;
    this.#events = events;
    void (async () => {
      for (let next = await events.next(); !next.done; next = await events.next()) void this.#reload(next.value.businessId);
    })();
  }

  /** Loads every business with a number now, then reloads every `refreshMs`. Never rejects. */
  async start(): Promise<void> {
    await this.#reload();
    this.#timer = setInterval(() => void this.#reload(), this.#options.refreshMs);
    this.#timer.unref();
  }

  /** The business answering on `e164`, as last loaded; undefined for a number it does not know. */
  lookup(e164: string): RoutedBusiness | undefined {
    return this.#byNumber.get(e164);
  }

  /** Numbers known. */
  get size(): number {
    return this.#byNumber.size;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#events.return?.();
    await this.#loading;
  }

  /** Reloads one business (`businessId`) or all; reloads run one at a time. */
  #reload(businessId?: string): Promise<void> {
    this.#loading = this.#loading.then(async () => {
      try {
        const loaded = await loadRoutes(this.#options.orm.em.fork(), businessId);
        if (businessId === undefined) this.#byNumber = loaded;
        else {
          for (const [number, routed] of this.#byNumber) if (routed.business.id === businessId) this.#byNumber.delete(number);
          for (const [number, routed] of loaded) this.#byNumber.set(number, routed);
        }
        if (this.#failing) this.#options.logger.info({ numbers: this.#byNumber.size }, 'routing cache reloaded');
        this.#failing = false;
      } catch (error) {
        if (!this.#failing) this.#options.logger.warn({ err: describeError(error), numbers: this.#byNumber.size }, 'cannot reload the routing cache: keeping what it holds');
        this.#failing = true;
      }
    });
    return this.#loading;
  }
}

/** The routes of every business with a number (or of `businessId` only), by number. */
async function loadRoutes(em: EntityManager, businessId?: string): Promise<Map<string, RoutedBusiness>> {
  const numbers = await rows(em, PhoneNumber, businessId === undefined ? {} : { business: businessId });
  const ids = [...new Set(numbers.map((number) => number.business))];
  const routes = new Map<string, RoutedBusiness>();
  if (ids.length === 0) return routes;
  const now = new Date();
  // Bookings overlapping the slots a call could offer until the next reload (a day's margin).
  const until = new Date(now.getTime() + (slotDays + 1) * 86_400_000);
  const [businesses, settings, booked] = await Promise.all([
    rows(em, Business, { id: { $in: ids } }),
    rows(em, BusinessSettings, { business: { $in: ids } }),
    rows(em, Appointment, { business: { $in: ids }, status: 'booked', startsAt: { $lt: until }, endsAt: { $gt: now } }),
  ]);
  for (const business of businesses) {
    const setting = settings.find((row) => row.business === business.id);
    if (!setting) continue;
    const own = numbers.filter((number) => number.business === business.id).map((number) => number.e164).sort();
    const routed = {
      business,
      settings: setting,
      phoneNumbers: own,
      booked: booked.filter((row) => row.business === business.id).sort((a, b) => a.startsAt.getTime() - b.startsAt.getTime()),
    };
    for (const number of own) routes.set(number, routed);
  }
  return routes;
}

function rows<T extends object>(em: EntityManager, entity: EntityName<T>, where: Record<string, unknown>): Promise<Row<T>[]> {
  // `where` is built here for the entity it names; the query builder cannot type it generically.
  return em.createQueryBuilder(entity).select('*').where(where as never).comment(routingCacheComment).execute('all') as Promise<Row<T>[]>;
}
