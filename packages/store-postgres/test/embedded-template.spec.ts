import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { embeddedExecutor, type SqlExecutor } from '../src';
import { EMBEDDED_SETTINGS } from '../src/embedded';
import { copyTemplate, ensureTemplate, needsInit } from '../src/pglite-template';

// Fresh embedded data directories start as a copy of a template that one
// process builds (initdb) and the others wait for.

let root = '';
beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'raftline-template-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A pid that no process has: one that has just exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

/** A stand-in for initdb that counts its runs and leaves an "initialized" directory. */
function fakeBuild(): { runs: () => number; build: (dir: string) => Promise<void> } {
  let runs = 0;
  return {
    runs: () => runs,
    build: async (dir) => {
      runs++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      mkdirSync(path.join(dir, 'base'), { recursive: true });
      writeFileSync(path.join(dir, 'base', 'file'), 'data');
      writeFileSync(path.join(dir, 'PG_VERSION'), '17\n');
    },
  };
}

const fast = { pollMs: 5, waitMs: 10_000 };

describe('embedded template - building', () => {
  it('builds a missing template once however many callers ask at the same time', async () => {
    const template = path.join(root, 'cache', 't');
    const fake = fakeBuild();
    const got = await Promise.all([1, 2, 3].map(() => ensureTemplate(template, fake.build, fast)));
    expect(got).toEqual([template, template, template]);
    expect(fake.runs()).toBe(1);
    expect(needsInit(template)).toBe(false);
    // Neither the lock nor a build directory is left behind.
    expect(readdirSync(path.dirname(template))).toEqual(['t']);
  });

  it('uses an existing template without building', async () => {
    const template = path.join(root, 't');
    const fake = fakeBuild();
    await ensureTemplate(template, fake.build, fast);
    await ensureTemplate(template, fake.build, fast);
    expect(fake.runs()).toBe(1);
  });

  it('takes over the lock of a process that has died', async () => {
    const template = path.join(root, 't');
    writeFileSync(`${template}.lock`, String(deadPid()));
    const fake = fakeBuild();
    await ensureTemplate(template, fake.build, fast);
    expect(fake.runs()).toBe(1);
    expect(existsSync(`${template}.lock`)).toBe(false);
  });

  it('waits while a live process holds the lock and then uses its template', async () => {
    const template = path.join(root, 't');
    writeFileSync(`${template}.lock`, String(process.pid));
    const fake = fakeBuild();
    const waiting = ensureTemplate(template, fake.build, fast);
    // The "other process" finishes its build and releases the lock.
    await new Promise((resolve) => setTimeout(resolve, 50));
    mkdirSync(template);
    writeFileSync(path.join(template, 'PG_VERSION'), '17\n');
    rmSync(`${template}.lock`);
    await expect(waiting).resolves.toBe(template);
    expect(fake.runs()).toBe(0);
  });

  it('gives up waiting for a live holder after waitMs, naming the lock', async () => {
    const template = path.join(root, 't');
    writeFileSync(`${template}.lock`, String(process.pid));
    await expect(ensureTemplate(template, fakeBuild().build, { pollMs: 5, waitMs: 50 })).rejects.toThrow(
      `${template}.lock`,
    );
  });

  it('a failed build leaves neither a template nor the lock, and the next caller builds', async () => {
    const template = path.join(root, 't');
    const failing = async (dir: string): Promise<void> => {
      mkdirSync(dir);
      throw new Error('initdb broke');
    };
    await expect(ensureTemplate(template, failing, fast)).rejects.toThrow('initdb broke');
    expect(readdirSync(root)).toEqual([]);
    const fake = fakeBuild();
    await ensureTemplate(template, fake.build, fast);
    expect(fake.runs()).toBe(1);
  });

  it('a build that leaves no PG_VERSION is refused', async () => {
    const template = path.join(root, 't');
    const empty = async (dir: string): Promise<void> => void mkdirSync(dir);
    await expect(ensureTemplate(template, empty, fast)).rejects.toThrow(/no PG_VERSION/);
    expect(needsInit(template)).toBe(true);
  });

  it('removes the build directories that dead processes abandoned', async () => {
    const template = path.join(root, 't');
    mkdirSync(`${template}.building-${deadPid()}-abc123`);
    await ensureTemplate(template, fakeBuild().build, fast);
    expect(readdirSync(root)).toEqual(['t']);
  });
});

describe('embedded template - copying', () => {
  it('a copy cut short before PG_VERSION counts as uninitialized and is completed by the next copy', async () => {
    const template = path.join(root, 't');
    await ensureTemplate(template, fakeBuild().build, fast);
    const dataDir = path.join(root, 'data');
    mkdirSync(path.join(dataDir, 'base'), { recursive: true });
    writeFileSync(path.join(dataDir, 'base', 'file'), 'half');
    expect(needsInit(dataDir)).toBe(true);
    copyTemplate(template, dataDir);
    expect(needsInit(dataDir)).toBe(false);
    expect(readdirSync(path.join(dataDir, 'base'))).toEqual(['file']);
  });
});

describe('embedded mode - fresh data directories', () => {
  it('a fresh data directory starts from the template as a working database of its own', async () => {
    const templateRoot = path.join(root, 'cache');
    const systemId = async (db: SqlExecutor): Promise<string> =>
      String(
        (await db.query('SELECT system_identifier FROM pg_control_system()')).rows[0]?.system_identifier,
      );
    const a = await embeddedExecutor(path.join(root, 'a'), { templateRoot });
    let idOfA = '';
    try {
      idOfA = await systemId(a);
      await a.query('CREATE TABLE only_in_a (v int)');
      await a.query('INSERT INTO only_in_a VALUES (7)');
    } finally {
      await a.close();
    }
    // The template was built once and kept.
    const templates = readdirSync(templateRoot);
    expect(templates).toHaveLength(1);
    expect(needsInit(path.join(templateRoot, templates[0] ?? ''))).toBe(false);

    const b = await embeddedExecutor(path.join(root, 'b'), { templateRoot });
    try {
      // A copy of the same template (initdb gives every database its own identifier).
      expect(await systemId(b)).toBe(idOfA);
      const tables = await b.query("SELECT 1 FROM pg_tables WHERE tablename = 'only_in_a'");
      expect(tables.rows).toHaveLength(0);
      const settings = await b.query<{ shared_buffers: string }>('SHOW shared_buffers');
      expect(settings.rows[0]?.shared_buffers).toBe(EMBEDDED_SETTINGS.shared_buffers);
    } finally {
      await b.close();
    }

    const reopened = await embeddedExecutor(path.join(root, 'a'), { templateRoot });
    try {
      expect((await reopened.query('SELECT v FROM only_in_a')).rows).toEqual([{ v: 7 }]);
    } finally {
      await reopened.close();
    }
  }, 120_000);

  it('without a usable template root a fresh data directory runs initdb itself', async () => {
    const file = path.join(root, 'not-a-directory');
    writeFileSync(file, '');
    const db = await embeddedExecutor(path.join(root, 'data'), { templateRoot: path.join(file, 'cache') });
    try {
      expect((await db.query<{ n: number }>('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);
    } finally {
      await db.close();
    }
    expect(needsInit(path.join(root, 'data'))).toBe(false);
  }, 120_000);
});
