import { Migration } from '@mikro-orm/migrations';

/**
 * Text search over calls (GraphQL `calls(filter: { search })`): a trigram index on exactly
 * the expression the repository searches, so `ilike '%…%'` need not scan every call.
 * Trigrams rather than full-text search: Postgres has no Hebrew dictionary to stem with,
 * and CRM users search for fragments of names and places.
 */
export class Migration20261122000000CallSearch extends Migration {
  override name = 'Migration20261122000000CallSearch';

  override up(): void {
    this.addSql(`create extension if not exists pg_trgm`);
    this.addSql(
      `create index "calls_search_trgm_index" on "calls" using gin ((coalesce("summary", '') || ' ' || coalesce("final_transcript", '') || ' ' || "transcript_turns"::text) gin_trgm_ops)`,
    );
  }

  override down(): void {
    this.addSql(`drop index if exists "calls_search_trgm_index"`);
  }
}

