import { runDatabaseTask } from './database-task.ts';

/** `npm run db:migrate`: applies pending migrations and says which. */
await runDatabaseTask(async ({ migrations }) => {
  process.stdout.write(
    migrations.length === 0 ? 'database is up to date\n' : `applied ${migrations.length} migration(s): ${migrations.join(', ')}\n`,
  );
});
