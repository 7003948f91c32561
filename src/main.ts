import { startCallwatch, type Callwatch } from './app.ts';
import { loadConfig } from './core/config.ts';
import { describeError } from './core/errors.ts';
import { createLogger } from './core/logger.ts';

/**
 * Entry point: `npm start`. Start-up failures print one line naming the reason and exit 1;
 * SIGINT/SIGTERM shut down gracefully and exit 0 (a second signal exits at once).
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel });
  let app: Callwatch | undefined;
  let shuttingDown = false;

  const shutdown = async (reason: string, exitCode: number) => {
    if (shuttingDown) {
      logger.warn({ reason }, 'second shutdown request: exiting now');
      process.exit(exitCode || 1);
    }
    shuttingDown = true;
    logger.info({ reason }, 'shutting down');
    await app?.close();
    logger.info('stopped');
    process.exit(exitCode);
  };
  process.on('SIGINT', () => void shutdown('SIGINT', 0));
  process.on('SIGTERM', () => void shutdown('SIGTERM', 0));

  app = await startCallwatch(config, {
    logger,
    onFatal: (reason) => {
      logger.fatal({ reason }, 'fatal');
      void shutdown(reason, 1);
    },
  });
  if (shuttingDown) await app.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`callwatch: cannot start: ${describeError(error)}\n`);
  process.exit(1);
});
