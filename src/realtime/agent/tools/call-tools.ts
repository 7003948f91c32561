import type { Slot } from '../../../core/business-hours.ts';
import { describeError, isAppError } from '../../../core/errors.ts';
import type { CallContext } from '../../call-context.ts';
import { instantToLocal, localToInstant, matchingSlots, nearestSlots } from './availability.ts';
import { parseToolCall, toolNames, type ToolArguments, type ToolName } from './definitions.ts';

/** Lead details the agent captured during the call; written when the call ends. */
export interface LeadCapture {
  name?: string;
  city?: string;
  service?: string;
  notes?: string[];
}

/** What the session does after a tool's output is sent. */
export type ToolEffect = 'continue' | 'end-call' | 'transfer';

export interface ToolOutcome {
  /** The tool's output for the model (sent as JSON). */
  output: Record<string, unknown>;
  effect: ToolEffect;
  /** The tool's arguments were rejected or it failed: `output.error` says why. */
  failed: boolean;
}

export interface CallToolsDeps {
  context: CallContext;
  now: () => Date;
  /** The one mid-call write: books a slot (guarded by the exclusion constraint). */
  book: (slot: { startsAt: Date; endsAt: Date; notes: string | null }) => Promise<{ appointmentId: string }>;
  /** Told how long each run took, by tool (`unknown` for a name the agent has no tool of). */
  timed?: (tool: ToolName | 'unknown', seconds: number) => void;
}

/**
 * The agent's tools for one call. Availability is answered from the slots preloaded at
 * call start (no query); booking is the one write, and a slot taken meanwhile (by another
 * call or the CRM) is answered with the nearest free alternatives. Lead details are kept
 * here and written with the rest of the call at its end. A tool never throws: bad
 * arguments and failures become an `error` output the model can act on.
 */
export class CallTools {
  readonly lead: LeadCapture = {};
  readonly #deps: CallToolsDeps;
  readonly #slots: Slot[];

  constructor(deps: CallToolsDeps) {
    this.#deps = deps;
    this.#slots = [...deps.context.slots];
  }

  /** Free slots as the call knows them (booked ones removed). */
  get slots(): readonly Slot[] {
    return this.#slots;
  }

  async run(name: string, argumentsJson: string): Promise<ToolOutcome> {
    const started = performance.now();
    try {
      return await this.#run(name, argumentsJson);
    } finally {
      // The name comes from the model: only the tools' own names become a label value.
      const tool = (toolNames as string[]).includes(name) ? (name as ToolName) : 'unknown';
      this.#deps.timed?.(tool, (performance.now() - started) / 1000);
    }
  }

  async #run(name: string, argumentsJson: string): Promise<ToolOutcome> {
    const parsed = parseToolCall(name, argumentsJson);
    if (!parsed.ok) return failure(parsed.error);
    try {
      switch (parsed.name) {
        case 'save_lead_details':
          return this.#saveLead(parsed.args as ToolArguments<'save_lead_details'>);
        case 'check_availability':
          return this.#availability(parsed.args as ToolArguments<'check_availability'>);
        case 'book_appointment':
          return await this.#book(parsed.args as ToolArguments<'book_appointment'>);
        case 'transfer_to_human':
          return this.#transfer();
        case 'end_call':
          return { output: { ending: true }, effect: 'end-call', failed: false };
      }
    } catch (error) {
      return failure(`${parsed.name satisfies ToolName} failed: ${describeError(error)}`);
    }
  }

  #saveLead(args: ToolArguments<'save_lead_details'>): ToolOutcome {
    if (args.name) this.lead.name = args.name;
    if (args.city) this.lead.city = args.city;
    if (args.service) this.lead.service = args.service;
    if (args.notes) (this.lead.notes ??= []).push(args.notes);
    return { output: { saved: true }, effect: 'continue', failed: false };
  }

  #availability(args: ToolArguments<'check_availability'>): ToolOutcome {
    const { timeZone } = this.#deps.context.business;
    if (args.date && args.date < instantToLocal(this.#deps.now(), timeZone).slice(0, 10)) return failure(`${args.date} has passed; ask for a day from today on`);
    const slots = matchingSlots(this.#slots, timeZone, { date: args.date, partOfDay: args.part_of_day });
    if (slots.length > 0) return { output: { time_zone: timeZone, slots }, effect: 'continue', failed: false };
    const nearest = args.date ? nearestSlots(this.#slots, localToInstant(`${args.date}T12:00`, timeZone), timeZone) : [];
    return { output: { time_zone: timeZone, slots: [], message: 'no free slot matches; offer the nearest ones instead', nearest }, effect: 'continue', failed: false };
  }

  async #book(args: ToolArguments<'book_appointment'>): Promise<ToolOutcome> {
    const { timeZone } = this.#deps.context.business;
    const start = localToInstant(args.start, timeZone);
    if (Number.isNaN(start.getTime())) return failure(`${args.start} is not a valid time`);
    if (start <= this.#deps.now()) return failure(`${args.start} has passed; offer a later slot`);
    const index = this.#slots.findIndex((slot) => slot.start.getTime() === start.getTime());
    const slot = this.#slots[index];
    if (!slot) return { output: { booked: false, error: `${args.start} is not a free slot`, alternatives: nearestSlots(this.#slots, start, timeZone) }, effect: 'continue', failed: true };
    try {
      const { appointmentId } = await this.#deps.book({ startsAt: slot.start, endsAt: slot.end, notes: args.notes ?? null });
      this.#removeSlot(slot);
      return { output: { booked: true, appointment_id: appointmentId, start: instantToLocal(slot.start, timeZone), end: instantToLocal(slot.end, timeZone) }, effect: 'continue', failed: false };
    } catch (error) {
      if (!isAppError(error, 'CONFLICT')) throw error;
      // Taken since the call started: it is not free any more, and the model offers others.
      this.#removeSlot(slot);
      return { output: { booked: false, error: 'that slot was just taken', alternatives: nearestSlots(this.#slots, start, timeZone) }, effect: 'continue', failed: true };
    }
  }

  #transfer(): ToolOutcome {
    if (!this.#deps.context.settings.transferNumber) {
      return { output: { transferred: false, message: 'There is no one to transfer to right now. Tell the caller, and offer that the business will call them back.' }, effect: 'continue', failed: false };
    }
    return { output: { transferring: true }, effect: 'transfer', failed: false };
  }

  #removeSlot(slot: Slot): void {
    const index = this.#slots.indexOf(slot);
    if (index >= 0) this.#slots.splice(index, 1);
  }
}

function failure(error: string): ToolOutcome {
  return { output: { error }, effect: 'continue', failed: true };
}
