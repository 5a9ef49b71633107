import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Fresh embedded data directories start as a copy of a template: a data
 * directory that PGlite initialized (initdb) and closed cleanly, made once per
 * machine and PGlite version. initdb is most of the cost of a fresh start
 * (seconds of CPU and a peak of about 800 MB, see the README); a copy is about
 * 40 MB of file writes. A copy is what initdb would have written, except that
 * every copy carries the same database system identifier, which a standalone
 * PGlite never uses.
 *
 * One process builds a missing template, under a lock file; the others wait
 * for it. The template is built beside its final path and renamed into place
 * only when complete, so a template directory is whole or absent.
 */

/** Bumped when the way a template is built changes, so that old templates are not reused. */
const TEMPLATE_LAYOUT = 1;

/** PGlite (like PostgreSQL) takes a data directory with PG_VERSION as initialized. */
const MARKER = 'PG_VERSION';

/** How long a lock file without a readable pid may be left alone (its holder may be writing it). */
const UNREADABLE_LOCK_GRACE_MS = 10_000;

export interface TemplateTiming {
  /** Between looks at another process's build. Default 100 ms. */
  readonly pollMs?: number;
  /** Waiting for another process's build gives up after this long. Default 120 s. */
  readonly waitMs?: number;
}

/**
 * Returns `$XDG_CACHE_HOME/raftline`, else `~/.cache/raftline`; undefined when
 * neither is known.
 */
export function defaultTemplateRoot(): string | undefined {
  const cache = process.env.XDG_CACHE_HOME;
  if (cache) return path.join(cache, 'raftline');
  let home = '';
  try {
    home = os.homedir();
  } catch {
    return undefined;
  }
  return home ? path.join(home, '.cache', 'raftline') : undefined;
}

/** Returns the template directory for this PGlite version under root. */
export function templatePath(root: string, pgliteVersion: string): string {
  return path.join(root, `pglite-${pgliteVersion}-t${TEMPLATE_LAYOUT}`);
}

/** True when dataDir holds no initialized database yet (it is missing, empty, or has no PG_VERSION). */
export function needsInit(dataDir: string): boolean {
  return !existsSync(path.join(dataDir, MARKER));
}

/**
 * Copies the template into dataDir (created if missing), PG_VERSION last: a
 * copy cut short by a crash has no PG_VERSION, so the next start copies again.
 * Throws the file system's error.
 */
export function copyTemplate(template: string, dataDir: string): void {
  const marker = path.join(template, MARKER);
  cpSync(template, dataDir, { recursive: true, force: true, filter: (src) => src !== marker });
  copyFileSync(marker, path.join(dataDir, MARKER));
}

/**
 * Returns `template` once it holds a complete data directory, building it with
 * `build(dir)` when missing (build must leave an initialized, closed data
 * directory in dir). While one caller (of any process) builds, the others wait
 * and then use its result; the lock of a holder that has died is taken over.
 *
 * Throws build's error, the file system's error (e.g. the root is not
 * writable), or an Error when another process's build has not finished in
 * `waitMs`.
 */
export async function ensureTemplate(
  template: string,
  build: (dir: string) => Promise<void>,
  timing: TemplateTiming = {},
): Promise<string> {
  const pollMs = timing.pollMs ?? 100;
  const deadline = Date.now() + (timing.waitMs ?? 120_000);
  const lock = `${template}.lock`;
  mkdirSync(path.dirname(template), { recursive: true });
  for (;;) {
    if (!needsInit(template)) return template;
    if (tryLock(lock)) {
      try {
        if (needsInit(template)) await buildInPlace(template, build);
        return template;
      } finally {
        rmSync(lock, { force: true });
      }
    }
    if (lockIsStale(lock)) {
      rmSync(lock, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(`the PGlite template ${template} is still being built by another process (${lock})`);
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** Builds into a private directory beside the template and renames it into place. */
async function buildInPlace(template: string, build: (dir: string) => Promise<void>): Promise<void> {
  removeAbandonedBuilds(template);
  const building = `${template}.building-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    await build(building);
    if (needsInit(building)) throw new Error(`building the PGlite template left no ${MARKER} in ${building}`);
    try {
      renameSync(building, template);
    } catch {
      // A stale-lock takeover can let two builders finish: the first one's template stands.
      if (!needsInit(template)) return;
      // A template directory without PG_VERSION is debris (e.g. emptied by hand): replace it.
      rmSync(template, { recursive: true, force: true });
      renameSync(building, template);
    }
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
}

/** Creates the lock file with this process's pid; false when it exists. */
function tryLock(lock: string): boolean {
  try {
    writeFileSync(lock, String(process.pid), { flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/** True when the lock's holder is gone: its pid is not a live process (or, unreadable, the file is old). */
function lockIsStale(lock: string): boolean {
  let text: string;
  let ageMs: number;
  try {
    text = readFileSync(lock, 'utf8');
    ageMs = Date.now() - statSync(lock).mtimeMs;
  } catch {
    return false; // released meanwhile: the next look finds the template or takes the lock
  }
  const pid = Number(text);
  if (!Number.isInteger(pid) || pid <= 0) return ageMs > UNREADABLE_LOCK_GRACE_MS;
  return !processIsAlive(pid);
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes `<template>.building-<pid>-*` directories of processes that no longer run (a crash mid-build). */
function removeAbandonedBuilds(template: string): void {
  const dir = path.dirname(template);
  const prefix = `${path.basename(template)}.building-`;
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (!Number.isInteger(pid) || !processIsAlive(pid)) {
      rmSync(path.join(dir, name), { recursive: true, force: true });
    }
  }
}
