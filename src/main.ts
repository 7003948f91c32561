import { startCallwatch, type Callwatch } from './app.ts';
import { loadConfig } from './core/config.ts';
import { describeError } from './core/errors.ts';
import { createLogger } from './core/logger.ts';

/**
 * Entry point: `npm start`. Start-up failures print one line naming the reason and exit 1.
 * SIGINT/SIGTERM shut down gracefully and exit 0; a signal that arrives during start-up is
 * honoured once start-up has finished, so nothing half-started is left behind. A second
 * signal exits at once.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel });
  let app: Callwatch | undefined;
  let stopRequest: { reason: string; exitCode: number } | undefined;

  const stop = async (reason: string, exitCode: number) => {
    if (stopRequest) {
      logger.warn({ reason }, 'second shutdown request: exiting now');
      process.exit(exitCode || 1);
    }
    stopRequest = { reason, exitCode };
    logger.info({ reason }, 'shutting down');
    // Still starting: main() closes what started once startCallwatch returns.
    if (!app) return;
    await app.close();
    logger.info('stopped');
    process.exit(exitCode);
  };
  process.on('SIGINT', () => void stop('SIGINT', 0));
  process.on('SIGTERM', () => void stop('SIGTERM', 0));
  logger.info({ role: config.role, env: config.env }, 'starting');

  app = await startCallwatch(config, {
    logger,
    onFatal: (reason) => {
      logger.fatal({ reason }, 'fatal');
      void stop(reason, 1);
    },
  });
  if (stopRequest) {
    await app.close();
    logger.info('stopped');
    process.exit(stopRequest.exitCode);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`callwatch: cannot start: ${describeError(error)}\n`);
  process.exit(1);
});
