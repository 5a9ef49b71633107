import { EventEmitter } from 'node:events';
import type { SqlSession } from '../executor';

/**
 * A stand-in for the `pg` module, handed to TypeORM as the DataSource option
 * `driver`, so that TypeORM runs on one SqlSession we already hold (a pg
 * connection holding the migration lock, or PGlite). TypeORM only needs
 * `new Pool(options)`, `pool.connect(callback)`, `pool.on`, `pool.end` and a
 * client with `query()` (promise and callback forms) and event methods.
 * Every connect() returns the same session: TypeORM's migration run uses its
 * connections one after another, never two at once.
 */

type Callback<T> = (err: Error | null, value?: T) => void;

interface PgLikeResult {
  rows: unknown[];
  rowCount: number;
  command: string;
}

class SessionClient extends EventEmitter {
  constructor(private readonly session: SqlSession) {
    super();
  }

  query(
    sql: string,
    paramsOrCallback?: unknown,
    callback?: Callback<PgLikeResult>,
  ): Promise<PgLikeResult> | void {
    const params = Array.isArray(paramsOrCallback) ? (paramsOrCallback as unknown[]) : undefined;
    const done =
      typeof paramsOrCallback === 'function' ? (paramsOrCallback as Callback<PgLikeResult>) : callback;
    const result = this.session.query(sql, params).then((r) => ({
      rows: r.rows,
      rowCount: r.rowCount,
      // pg reports the statement's command tag; TypeORM looks at it for UPDATE/DELETE.
      command: (/^\s*(\w+)/.exec(sql)?.[1] ?? '').toUpperCase(),
    }));
    if (!done) return result;
    result.then(
      (r) => done(null, r),
      (e: Error) => done(e),
    );
  }
}

/** Returns an object shaped like the `pg` module whose pools all use `session`. */
export function sessionDriver(session: SqlSession): { Pool: new (options: unknown) => unknown } {
  const client = new SessionClient(session);
  class SessionPool extends EventEmitter {
    constructor(_options: unknown) {
      super();
    }

    connect(callback: (err: Error | null, client?: SessionClient, release?: () => void) => void): void {
      callback(null, client, () => {});
    }

    end(callback?: (err?: Error) => void): void {
      callback?.();
    }
  }
  return { Pool: SessionPool };
}
