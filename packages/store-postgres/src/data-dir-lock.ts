import { randomUUID } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { embeddedExecutor as openEmbedded } from './embedded';
import { DataDirInUseError } from './errors';
import type { SqlExecutor } from './executor';

/**
 * PGlite does not lock its data directory: two processes that open the same
 * one both write it, and corrupt it. So the embedded mode keeps a lock file,
 * `raftline.lock`, in the directory while it is open, holding the pid and host
 * of the process that has it.
 *
 * The file is created atomically with its content (written to a temporary
 * file, then hard-linked into place), so a reader never sees it half written.
 * A file whose process is gone (kill -9, a crash) is stale and is taken
 * over. Limits: a holder on another host cannot be checked and counts as
 * alive; a stale file whose pid now belongs to an unrelated process refuses
 * the open until the file is deleted; two processes taking over the same
 * stale file at the same instant can both succeed.
 */
export const DATA_DIR_LOCK_FILE = 'raftline.lock';

interface LockContent {
  readonly pid: number;
  readonly host: string;
  readonly token: string;
}

/** A held data-directory lock. */
export interface DataDirLock {
  /** Deletes the lock file if it is still this holder's. Idempotent. */
  release(): void;
}

/**
 * Takes the lock of dataDir (which must exist).
 * @returns the held lock
 * @throws DataDirInUseError when a live process (this one included) holds it
 * @throws the file system's error when the directory cannot be written
 */
export function lockDataDir(dataDir: string): DataDirLock {
  const file = path.join(dataDir, DATA_DIR_LOCK_FILE);
  const mine: LockContent = { pid: process.pid, host: hostname(), token: randomUUID() };
  const text = JSON.stringify(mine);
  for (let attempt = 0; attempt < 5; attempt++) {
    if (createAtomically(file, text)) {
      let released = false;
      return {
        release: () => {
          if (released) return;
          released = true;
          const now = read(file);
          if (typeof now === 'object' && now.token === mine.token) removeQuietly(file);
        },
      };
    }
    const holder = read(file);
    if (holder === undefined) continue; // it vanished meanwhile: try again
    if (holder !== 'garbled' && alive(holder)) {
      throw new DataDirInUseError(dataDir, file, holder.pid, holder.host);
    }
    removeQuietly(file); // stale: its process is gone
  }
  throw new DataDirInUseError(dataDir, file, undefined, undefined);
}

/**
 * embeddedExecutor (embedded.ts) under the data directory's lock: the lock is
 * taken before PGlite opens dataDir and released after it is closed. An
 * in-memory database (no dataDir) needs no lock.
 * @returns the executor
 * @throws DataDirInUseError when another process (or another executor of this one) has dataDir open
 * @throws the PGlite error when the database cannot be opened
 */
export async function embeddedExecutor(...args: Parameters<typeof openEmbedded>): Promise<SqlExecutor> {
  const [dataDir] = args;
  if (!dataDir) return openEmbedded(...args);
  mkdirSync(dataDir, { recursive: true });
  const lock = lockDataDir(dataDir);
  let executor: SqlExecutor;
  try {
    executor = await openEmbedded(...args);
  } catch (err) {
    lock.release();
    throw err;
  }
  return {
    ...executor,
    close: async () => {
      try {
        await executor.close();
      } finally {
        lock.release();
      }
    },
  };
}

/** Creates file holding text unless it exists; returns whether it did. */
function createAtomically(file: string, text: string): boolean {
  const temp = `${file}.${process.pid}.${randomUUID()}`;
  writeFileSync(temp, text);
  try {
    linkSync(temp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    removeQuietly(temp);
  }
}

/** The holder recorded in file; undefined when there is no file, 'garbled' when it cannot be parsed. */
function read(file: string): LockContent | 'garbled' | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as Partial<LockContent>;
    if (
      typeof parsed.pid === 'number' &&
      typeof parsed.host === 'string' &&
      typeof parsed.token === 'string'
    ) {
      return parsed as LockContent;
    }
  } catch {
    // not JSON: garbled
  }
  return 'garbled';
}

/** Whether the holder's process may still run: a process on another host cannot be checked and counts as alive. */
function alive(holder: LockContent): boolean {
  if (holder.host !== hostname()) return true;
  if (holder.pid === process.pid) return true;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}
