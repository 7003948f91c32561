import { startCallwatch, type Callwatch } from './app.ts';
import { loadConfig } from './core/config.ts';
import { describeError } from './core/errors.ts';
import { createLogger } from './core/logger.ts';

/**
 * Entry point: `npm start`. Start-up failures print one line naming the reason and exit 1.
 * SIGINT/SIGTERM shut down gracefully and exit 0: live calls may finish, up to
 * SHUTDOWN_CALL_DRAIN_SEC (README "Deploys"). A signal that arrives during start-up is
 * honoured once start-up has finished, so nothing half-started is left behind. A second
 * signal ends the drain: the calls left hear a short goodbye (or are transferred) and are
 * written, then the process exits. A third exits at once.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel });
  let app: Callwatch | undefined;
  let stopRequest: { reason: string; exitCode: number } | undefined;
  let endingCalls = false;

  const stop = async (reason: string, exitCode: number) => {
    if (stopRequest && app && !endingCalls) {
      endingCalls = true;
      // A fatal error during the drain still makes the exit a failure.
      stopRequest.exitCode ||= exitCode;
      logger.warn({ reason }, 'second shutdown request: ending the calls now');
      return app.endCallsNow();
    }
    if (stopRequest) {
      logger.warn({ reason }, 'another shutdown request: exiting now');
      process.exit(exitCode || 1);
    }
    stopRequest = { reason, exitCode };
    logger.info({ reason }, 'shutting down');
    // Still starting: main() closes what started once startCallwatch returns.
    if (!app) return;
    await app.close();
    logger.info('stopped');
    process.exit(stopRequest.exitCode);
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
