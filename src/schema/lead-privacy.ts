import { z } from 'zod';
import { eraseLead, exportLeadData, type LeadDataExport, type LeadErasure } from '../entities/lead-data.repository.ts';
import { RecordingDeletion } from '../entities/recording-deletion.ts';
import { builder } from './builder.ts';
import { businessIdOf } from './context.ts';
import { FieldValidationError, NotFoundError, domain } from './errors.ts';
import { LeadRef } from './refs.ts';

const LeadDataExportRef = builder.objectRef<LeadDataExport>('LeadDataExport').implement({
  description: 'Everything Callwatch stores about one person (a right of access under privacy law).',
  fields: (t) => ({
    exportedAt: t.expose('exportedAt', { type: 'DateTime', description: 'When the export was taken.' }),
    data: t.field({
      type: 'JSON',
      description:
        'The lead; every call linked to it or made from / to its number, with transcripts, summary, extracted fields, timeline and recording SID / URL; the sizes of downloaded recordings; appointments; outbound call jobs; webhook deliveries of those calls with payloads and attempts. Column names as stored.',
      resolve: ({ exportedAt: _, ...data }) => data,
    }),
  }),
});

const LeadErasureRef = builder.objectRef<LeadErasure>('LeadErasure').implement({
  description: 'What eraseLead removed.',
  fields: (t) => ({
    lead: t.field({ type: LeadRef, description: 'The lead as it stays: a placeholder phone, no personal fields, erasedAt set.', resolve: (erasure) => erasure.lead }),
    callsErased: t.exposeInt('callsErased', { description: 'Calls whose transcripts, summary, fields, timeline, webhook deliveries and caller number were removed; they still count.' }),
    recordingsDeleted: t.exposeInt('recordingsDeleted', { description: 'Recordings deleted at Twilio and here.' }),
    recordingsPending: t.exposeInt('recordingsPending', {
      description: 'Recordings Twilio did not confirm deleted (it failed or was unreachable); erasing again is harmless and retries them.',
    }),
  }),
});

const leadId = z.uuid('is not a lead id');

builder.queryFields((t) => ({
  exportLeadData: t.field({
    type: LeadDataExportRef,
    authScopes: { admin: true },
    description: 'Everything stored about one lead, as JSON (admins only). Another business’s lead is a NotFoundError.',
    errors: { types: [FieldValidationError, NotFoundError], directResult: true },
    args: { leadId: t.arg.id({ required: true, description: 'The lead to export.', validate: leadId }) },
    resolve: (_root, args, ctx) => domain(() => exportLeadData(ctx.em, businessIdOf(ctx), String(args.leadId))),
  }),
}));

builder.mutationFields((t) => ({
  eraseLead: t.field({
    type: LeadErasureRef,
    authScopes: { admin: true },
    description:
      'Erases a person (admins only): the lead’s phone becomes a placeholder and its name, gender, city, service and notes are removed; its calls lose transcripts, summaries, extracted fields, timelines, webhook deliveries and the caller’s number, and their recordings are deleted at Twilio and here; appointments lose their notes; queued outbound calls to them are canceled. Calls, appointments and the lead row stay, so counts do not change. Another business’s lead is a NotFoundError.',
    errors: { types: [FieldValidationError, NotFoundError], directResult: true },
    args: { leadId: t.arg.id({ required: true, description: 'The lead to erase.', validate: leadId }) },
    resolve: (_root, args, ctx) =>
      domain(() => eraseLead(ctx.em, new RecordingDeletion(ctx.services.config, ctx.logger, ctx.services.metrics), businessIdOf(ctx), String(args.leadId))),
  }),
}));
