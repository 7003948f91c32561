import { Writable } from 'node:stream';
import { createLogger } from '../../src/core/logger.ts';

/** A logger at `level` whose lines are kept, parsed, in `lines`. */
export function capturingLogger(level = 'debug') {
  const lines: Record<string, any>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, any>);
      done();
    },
  });
  return { logger: createLogger({ level, destination }), lines };
}
