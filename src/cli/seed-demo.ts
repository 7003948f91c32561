import { issueApiKey } from '../entities/api-key.repository.ts';
import { runDatabaseTask } from './database-task.ts';
import { demoPhoneNumber, seedDemoBusiness } from './demo-data.ts';

/**
 * `npm run seed:demo`: the demo business (see demo-data.ts) and an admin API key printed
 * once. Running it again leaves the data alone and issues a fresh key.
 */
await runDatabaseTask(async ({ orm, config }) => {
  const em = orm.em.fork();
  const business = await seedDemoBusiness(em);
  const { key } = await issueApiKey(em, { businessId: business.id, role: 'admin', name: `demo admin ${new Date().toISOString()}` });

  process.stdout.write(
    [
      `Demo business: ${business.name} (${business.id})`,
      `  answers calls on ${demoPhoneNumber}`,
      `  GraphQL: ${config.publicUrl}/graphql`,
      '',
      `API key (admin) — shown once, keep it: ${key}`,
      '',
    ].join('\n'),
  );
});
