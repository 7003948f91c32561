import type { Logger } from '../core/logger.ts';
import type { Services } from '../core/services.ts';

/** What every resolver receives. Built once per request by server.ts. */
export interface GraphQLContext {
  services: Services;
  requestId: string;
  logger: Logger;
}
