/**
 * pino loggers for `raftline serve`: JSON lines on stdout by default, or
 * human-readable lines (pino-pretty) with log.pretty / --pretty. Writes are
 * synchronous, so nothing logged before an exit is lost.
 */
import pino, { type Logger as PinoLogger } from 'pino';
import type { LogSettings } from './config/schema';

export type { PinoLogger };

/**
 * The process's root logger, with `base` on every line (the node id);
 * replicas log through children with { group }. A field of a line that
 * repeats a base field with the same value (core logs { node } itself) is
 * left out, so no line holds a key twice.
 */
export function createLogger(settings: LogSettings, base: Record<string, unknown> = {}): PinoLogger {
  const options: pino.LoggerOptions = {
    level: settings.level,
    base: { pid: process.pid, ...base },
    timestamp: pino.stdTimeFunctions.isoTime,
    hooks: {
      logMethod(args, method) {
        const [first] = args as unknown[];
        if (first && typeof first === 'object' && !(first instanceof Error)) {
          const fields = first as Record<string, unknown>;
          const repeated = Object.keys(base).filter((k) => k in fields && fields[k] === base[k]);
          if (repeated.length > 0) {
            const kept = { ...fields };
            for (const k of repeated) delete kept[k];
            (args as unknown[])[0] = kept;
          }
        }
        return method.apply(this, args);
      },
    },
  };
  if (settings.pretty) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pretty = require('pino-pretty') as (o: object) => NodeJS.WritableStream;
    return pino(
      options,
      pretty({ colorize: Boolean(process.stdout.isTTY), sync: true, ignore: 'pid,hostname' }),
    );
  }
  return pino(options, pino.destination({ dest: 1, sync: true }));
}
