/**
 * The logging surface raftline uses: structured object first, message second,
 * which a pino logger satisfies as is (`pino()` can be passed directly).
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Discards everything; the default when no logger is given. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};
