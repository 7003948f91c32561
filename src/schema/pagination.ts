import type { ArgBuilder, ObjectRef } from '@pothos/core';
import { Kind, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';
import { z } from 'zod';
import type { Cursor, Page, PageRequest } from '../entities/page.ts';
import { builder, type Types } from './builder.ts';
import { FieldValidationError } from './validation-error.ts';

const defaultPageSize = 20;
const maxPageSize = 100;

export const PageInfo = builder.objectRef<{ hasNextPage: boolean; endCursor: string | null }>('PageInfo').implement({
  description: 'Where a page ends. Pass `endCursor` as `after` for the next page.',
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage', { description: 'Whether more come after this page.' }),
    endCursor: t.exposeString('endCursor', { nullable: true, description: 'The last edge’s cursor; null for an empty page.' }),
    hasPreviousPage: t.boolean({
      description: 'Always false: pages go forward from the newest.',
      resolve: () => false,
    }),
    startCursor: t.string({ nullable: true, description: 'Always null: pages go forward only.', resolve: () => null }),
  }),
});

/** Connection arguments: `first` (1–100, default 20) and `after` (an `endCursor`). */
export function pageArguments(arg: ArgBuilder<Types>) {
  return {
    first: arg.int({
      defaultValue: defaultPageSize,
      description: `How many to return, 1–${maxPageSize}.`,
      validate: z.number().int('first must be a whole number').min(1, 'first must be at least 1').max(maxPageSize, `first must be at most ${maxPageSize}`),
    }),
    after: arg.string({ description: 'The `pageInfo.endCursor` of the previous page.' }),
  };
}

/** What a connection field's arguments and selection ask of a repository's page query. */
export function pageRequest(args: { first?: number | null; after?: string | null }, info: GraphQLResolveInfo): PageRequest {
  return { first: args.first ?? defaultPageSize, after: decodeCursor(args.after), withTotal: selects(info, 'totalCount') };
}

/** A connection field's cost: its nodes' selections count once per requested node. */
export function pageComplexity(args: { first?: number | null }) {
  return { field: 1, multiplier: args.first ?? defaultPageSize };
}

/** Encodes a row's position in a newest-first listing. Opaque to clients. */
function encodeCursor(cursor: Cursor): string {
  return Buffer.from(`${cursor.at.toISOString()}|${cursor.id}`).toString('base64url');
}

const uuid = z.uuid();

/** Decodes `after`; a cursor this API did not hand out is a validation error on `after`. */
function decodeCursor(after: string | null | undefined): Cursor | null {
  if (after === null || after === undefined) return null;
  const [at, id, extra] = Buffer.from(after, 'base64url').toString('utf8').split('|');
  const date = new Date(at ?? '');
  if (extra !== undefined || Number.isNaN(date.getTime()) || !uuid.safeParse(id).success) {
    throw new FieldValidationError([{ path: ['after'], message: 'after is not a cursor from this API (use pageInfo.endCursor)' }]);
  }
  return { at: date, id: id as string };
}

/**
 * A Relay connection type over `node` — `edges { cursor node }`, `nodes`, `pageInfo`, and
 * `totalCount` (counted only when selected).
 */
export function connectionOf<T>(name: string, node: ObjectRef<Types, T>) {
  const Edge = builder.objectRef<{ cursor: string; node: T }>(`${name}Edge`).implement({
    description: `One ${name} of a page, with its cursor.`,
    fields: (t) => ({
      cursor: t.exposeString('cursor', { description: 'Opaque; pass it as `after` to continue after this edge.' }),
      // Pothos cannot relate a generic T to the ref's resolved type; the ref is built for T.
      node: t.field({ type: node, description: `The ${name}.`, resolve: (edge) => edge.node as never }),
    }),
  });
  return builder.objectRef<Connection<T>>(`${name}Connection`).implement({
    description: `A page of ${name}s, newest first.`,
    fields: (t) => ({
      edges: t.field({ type: [Edge], description: 'The page’s items with their cursors.', resolve: (page) => page.edges }),
      nodes: t.field({ type: [node], description: 'The page’s items, when cursors are not needed.', resolve: (page) => page.edges.map((edge) => edge.node) as never }),
      pageInfo: t.field({ type: PageInfo, description: 'Whether more follow, and where to continue.', resolve: (page) => page.pageInfo }),
      totalCount: t.int({
        description: 'How many match the filter, across all pages.',
        resolve: (page) => {
          if (page.totalCount === null) throw new Error('totalCount selected but not counted');
          return page.totalCount;
        },
      }),
    }),
  });
}

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  totalCount: number | null;
}

/** Shapes a repository's page as a connection. */
export function toConnection<T extends { id: string; createdAt: Date }>(page: Page<T>): Connection<T> {
  const edges = page.rows.map((node) => ({ cursor: encodeCursor({ at: node.createdAt, id: node.id }), node }));
  return { edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null }, totalCount: page.totalCount };
}

/** Whether the current field's selection asks for `name` (directly or through fragments). */
function selects(info: GraphQLResolveInfo, name: string): boolean {
  const visit = (set: SelectionSetNode | undefined): boolean =>
    (set?.selections ?? []).some((selection) => {
      if (selection.kind === Kind.FIELD) return selection.name.value === name;
      if (selection.kind === Kind.INLINE_FRAGMENT) return visit(selection.selectionSet);
      return visit(info.fragments[selection.name.value]?.selectionSet);
    });
  return info.fieldNodes.some((node) => visit(node.selectionSet));
}
