import packageJson from '../../package.json' with { type: 'json' };
import type { Services } from './services.ts';

export interface Readiness {
  ready: boolean;
  database: boolean;
  queue: boolean;
  version: string;
}

/** Asks each dependency whether it answers; never throws. */
export async function checkReadiness(services: Pick<Services, 'orm' | 'queue'>): Promise<Readiness> {
  const [database, queue] = await Promise.all([
    services.orm.checkConnection().then((result) => result.ok, () => false),
    services.queue.isReachable(),
  ]);
  return { ready: database && queue, database, queue, version: packageJson.version };
}
