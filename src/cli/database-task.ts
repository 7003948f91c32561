import { loadConfig, type Config } from '../core/config.ts';
import { openDatabaseServer, type Orm } from '../core/db.ts';
import { migrate, openOrm } from '../database.ts';
import { describeError } from '../core/errors.ts';
import { secretBoxOf } from '../core/secret-box.ts';
import { createLogger, type Logger } from '../core/logger.ts';

export interface DatabaseTaskContext {
  config: Config;
  orm: Orm;
  logger: Logger;
  /** Names of the migrations this run applied. */
  migrations: string[];
}

/**
 * Runs a command-line task against Callwatch's database (DATABASE_URL, or the embedded
 * server — shared when `npm start` already runs it), with every migration applied first.
 * Prints a one-line reason and exits 1 on failure.
 */
export async function runDatabaseTask(task: (context: DatabaseTaskContext) => Promise<void>): Promise<void> {
  try {
    const config = loadConfig();
    const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
    const server = await openDatabaseServer({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      embeddedPort: config.embeddedPostgresPort,
      logger,
    });
    try {
      const orm = await openOrm(server.url);
      try {
        const migrations = await migrate(orm, secretBoxOf(config));
        await task({ config, orm, logger, migrations });
      } finally {
        await orm.close();
      }
    } finally {
      await server.stop();
    }
  } catch (error) {
    process.stderr.write(`callwatch: ${describeError(error)}\n`);
    process.exitCode = 1;
  }
}
