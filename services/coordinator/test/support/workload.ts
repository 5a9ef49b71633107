// One simulated run of the coordinator: candidate agents campaign for a few
// tasks, renew, checkpoint, write through act(), resign, and sometimes stall
// past their lease and then write under their old epoch; a human designates,
// revokes, pauses, resumes and approves; a ticker sends tick(); meanwhile the
// cluster is partitioned, crashed and restarted, made lossy, and loses chosen
// messages. At the end everything heals and checkRun() judges what the
// clients were told against the committed histories.
import { CommandFailedError, seededRandom, type RandomSource } from '@raftline/core';
import { SimCluster } from '@raftline/testing';
import {
  Coordinator,
  type HistoryPage,
  type ResourceView,
  type TaskOptions,
  type TaskView,
} from '../../src/index';
import { checkRun, type OpRecord } from './checker';

/** The tasks of every run: each policy, approval, stuck detection, a budget, a subtask. */
export const TASKS: readonly (readonly [string, TaskOptions])[] = [
  ['build', { policy: 'first', leaseMs: 400 }],
  ['build/test', { parent: 'build', policy: 'least-loaded', leaseMs: 300, stuckAfterRenewals: 4 }],
  ['deploy', { policy: 'capability', requires: ['deploy'], leaseMs: 500, budget: { tokens: 400 } }],
  ['review', { policy: 'round-robin', leaseMs: 400, approval: true }],
  ['triage', { policy: 'random', leaseMs: 350, budget: { ms: 1500 } }],
  ['release', { policy: 'designated', designated: 'g1', leaseMs: 450 }],
];
const AGENTS = ['g1', 'g2', 'g3', 'g4'];

/** How one seed runs. */
export interface RunOptions {
  /** Virtual time of the faulty phase (default 6000 ms). */
  readonly durationMs?: number;
  /** The machine each replica runs (default: a Coordinator keeping all history); tests of the checker pass broken ones. */
  readonly machine?: () => Coordinator;
}

/** What one seed did. */
export interface RunReport {
  readonly seed: number;
  readonly violations: readonly string[];
  readonly faults: readonly string[];
  readonly stats: Record<string, number>;
}

/** Runs with a client op timeout of this much virtual time; an op not answered by then stays 'unknown'. */
const OP_TIMEOUT_MS = 1500;

class Run {
  readonly ops: OpRecord[] = [];
  readonly stats: Record<string, number> = {
    grants: 0,
    acts: 0,
    staleRefused: 0,
    stalls: 0,
    checkpoints: 0,
    overrides: 0,
    approvals: 0,
    unknown: 0,
  };
  stopping = false;

  constructor(
    readonly c: SimCluster,
    readonly rng: RandomSource,
  ) {}

  /** An integer in [lo, hi] (both rounded down). */
  between(lo: number, hi: number): number {
    const [a, b] = [Math.floor(lo), Math.floor(hi)];
    return a + this.rng.nextInt(b - a + 1);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.rng.nextInt(items.length)]!;
  }

  /**
   * Sends one command as `who` and records it.
   * @returns the result, or undefined when the outcome stayed unknown
   * @throws CommandFailedError and anything else definite: the machine never fails a command
   */
  async op<T = Record<string, unknown>>(who: string, name: string, args: unknown[]): Promise<T | undefined> {
    const invokedAt = this.c.now();
    try {
      const result = await this.c.client(who).propose({ name, args }, { timeoutMs: OP_TIMEOUT_MS });
      this.ops.push({ who, name, args, invokedAt, outcome: 'ok', result });
      return result as T;
    } catch (err) {
      if (err instanceof CommandFailedError) throw err;
      if (!isUnknown(err)) throw err;
      this.ops.push({ who, name, args, invokedAt, outcome: 'unknown' });
      this.stats.unknown!++;
      return undefined;
    }
  }
}

function isUnknown(err: unknown): boolean {
  const name = err instanceof Error ? err.name : '';
  return name === 'ProposalTimeoutError' || name === 'NodeStoppedError' || name === 'LeadershipLostError';
}

interface LeaseResult {
  ok: boolean;
  status?: string;
  error?: string;
  lease?: { epoch: number; expiresAt: number };
}

/** One agent: campaign; while elected, renew / checkpoint / act / stall / resign. */
async function agent(run: Run, who: string): Promise<void> {
  const { c } = run;
  const tasks = TASKS.map(([id]) => id);
  let n = 0;
  while (!run.stopping && !c.stopped) {
    const task = run.pick(tasks);
    const leaseMs = TASKS.find(([id]) => id === task)![1].leaseMs!;
    const r = await run.op<LeaseResult>(who, 'campaign', [task, who]);
    if (r?.status !== 'elected') {
      await c.sleep(run.between(30, 150));
      continue;
    }
    run.stats.grants!++;
    const epoch = r.lease!.epoch;
    for (let round = 0; round < 12 && !run.stopping && !c.stopped; round++) {
      await c.sleep(run.between(leaseMs / 8, leaseMs / 3));
      const roll = run.rng.nextInt(100);
      const summary = String(++n);
      let res: LeaseResult | undefined;
      if (roll < 8) {
        // A pause: the agent stalls past its lease, then writes under its old epoch as if nothing happened.
        run.stats.stalls!++;
        await c.sleep(run.between(leaseMs + 50, leaseMs * 3));
        res = await run.op(who, 'act', [
          task,
          epoch,
          'out',
          { op: 'set', value: `${who}|${epoch}|${summary}` },
        ]);
        if (res?.ok === false && (res.error === 'StaleEpochError' || res.error === 'LeaseExpiredError'))
          run.stats.staleRefused!++;
        break;
      } else if (roll < 40) {
        const marker = run.rng.nextInt(3) === 0 ? 'same' : summary; // sometimes no progress
        res = await run.op(who, 'renew', [task, epoch, { marker, tokens: 25 * round }]);
      } else if (roll < 58) {
        res = await run.op(who, 'checkpoint', [
          task,
          epoch,
          { state: `${who}|${epoch}|${summary}`, summary },
        ]);
        if (res?.ok) run.stats.checkpoints!++;
      } else if (roll < 94) {
        const name = run.pick(['out', 'plan', 'log']);
        res = await run.op(who, 'act', [
          task,
          epoch,
          name,
          { op: 'set', value: `${who}|${epoch}|${summary}` },
        ]);
        if (res?.ok) run.stats.acts!++;
      } else {
        const cp = run.rng.nextInt(2) === 0 ? [{ state: `${who}|${epoch}|${summary}`, summary }] : [];
        await run.op(who, 'resign', [task, epoch, ...cp]);
        break;
      }
      if (!res?.ok) break; // lost it (or cannot tell): stop acting at once
    }
  }
}

/** A human: designate, revoke, pause and resume, approve what waits. */
async function human(run: Run): Promise<void> {
  const { c } = run;
  const paused = new Set<string>();
  while (!run.stopping && !c.stopped) {
    await c.sleep(run.between(150, 500));
    if (run.stopping) return;
    const [task] = run.pick(TASKS);
    const roll = run.rng.nextInt(100);
    if (roll < 40) {
      await approvePending(run);
    } else if (roll < 55) {
      await run.op('human', 'designate', [task, run.pick(AGENTS), 'alice']);
      run.stats.overrides!++;
    } else if (roll < 68) {
      await run.op('human', 'revoke', [task, 'alice', 'test']);
      run.stats.overrides!++;
    } else if (roll < 80 && !paused.has(task)) {
      if ((await run.op<{ ok: boolean }>('human', 'pause', [task, 'alice']))?.ok) paused.add(task);
    } else if (paused.size > 0) {
      const t = run.pick([...paused].sort());
      if ((await run.op<{ ok: boolean }>('human', 'resume', [t, 'alice']))?.ok) paused.delete(t);
    }
  }
  for (const t of [...paused].sort()) await run.op('human', 'resume', [t, 'alice']);
}

/** Approves the checkpoint 'review' waits on, if any (read linearizably first). */
async function approvePending(run: Run): Promise<void> {
  let view: TaskView | null;
  try {
    view = (await run.c
      .client('human')
      .query('task', ['review'], { timeoutMs: OP_TIMEOUT_MS })) as TaskView | null;
  } catch {
    return; // no read confirmed: try later
  }
  if (!view?.awaiting) return;
  const r = await run.op<{ ok: boolean }>('human', 'approve', ['review', view.awaiting.checkpoint, 'alice']);
  if (r?.ok) run.stats.approvals!++;
}

async function ticker(run: Run): Promise<void> {
  while (!run.stopping && !run.c.stopped) {
    await run.c.sleep(100);
    await run.op('ticker', 'tick', []);
  }
}

/** One fault, drawn from the seed. @returns what it did */
async function fault(run: Run): Promise<string> {
  const { c, rng } = run;
  const ids = c.ids;
  const roll = rng.nextInt(100);
  if (roll < 15) {
    const leader = c.leader();
    if (leader === undefined) return 'nothing (no leader)';
    c.partition(
      [leader],
      ids.filter((x) => x !== leader),
    );
    return `isolate leader ${leader}`;
  }
  if (roll < 25) {
    const cut = run.pick(ids);
    c.partition(
      [cut],
      ids.filter((x) => x !== cut),
    );
    return `isolate ${cut}`;
  }
  if (roll < 40) {
    const down = ids.filter((x) => !c.isRunning(x));
    if (down.length > 0) {
      await c.restart(down[0]!);
      return `restart ${down[0]}`;
    }
    const victim = rng.nextInt(2) === 0 ? (c.leader() ?? run.pick(ids)) : run.pick(ids);
    c.crash(victim);
    return `crash ${victim}`;
  }
  if (roll < 50) {
    c.setUnreliable({ dropRate: 0.1, delayMs: [0, 30], duplicateRate: 0.05, reorder: true });
    return 'unreliable';
  }
  if (roll < 58) {
    const to = run.pick(ids);
    const count = run.between(1, 5);
    c.dropWhere((m) => m.type === 'append' && m.to === to, { count });
    return `drop ${count} appends to ${to}`;
  }
  if (roll < 80) {
    c.heal();
    c.setUnreliable(false);
    return 'heal';
  }
  return 'nothing';
}

/** Every committed command by index, from whichever node applied it (one that installed a snapshot skipped some). */
function committed(c: SimCluster): Map<number, { name: string; args: readonly unknown[] }> {
  const all = new Map<number, { name: string; args: readonly unknown[] }>();
  for (const id of c.allIds)
    for (const [index, command] of c.applied(id)) if (!all.has(index)) all.set(index, command);
  return all;
}

/**
 * Runs one seed: setup, then agents, a human and a ticker under faults for
 * durationMs of virtual time, then heal and check.
 * @returns the violations (empty when safe), the faults and counters
 */
export async function runCoordinatorSeed(seed: number, options: RunOptions = {}): Promise<RunReport> {
  const durationMs = options.durationMs ?? 6000;
  const c = await SimCluster.create({
    nodes: seed % 5 === 0 ? 5 : 3,
    seed,
    stateMachine: options.machine ?? (() => new Coordinator({ historyLimit: 100_000 })),
    snapshotEvery: seed % 3 === 0 ? 40 : 0,
  });
  const run = new Run(c, seededRandom(seed ^ 0x0c0ffee));
  const faults: string[] = [];
  const violations: string[] = [];
  try {
    await c.waitForLeader();
    await run.op('setup', 'register', ['g1', { capabilities: { deploy: 1, code: 3 }, load: 0 }]);
    await run.op('setup', 'register', ['g2', { capabilities: { deploy: 5 }, load: 2 }]);
    await run.op('setup', 'register', ['g3', { capabilities: { code: 1 }, load: 1 }]);
    await run.op('setup', 'register', ['g4', { capabilities: { deploy: 2, code: 2 }, load: 0 }]);
    for (const [id, options] of TASKS) await run.op('setup', 'createTask', [id, options]);
    const loops = [...AGENTS.map((g) => agent(run, g)), human(run), ticker(run)].map((p) =>
      p.catch(
        (err: unknown) =>
          void violations.push(
            `a client failed: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`,
          ),
      ),
    );
    while (c.now() < durationMs && violations.length === 0) {
      faults.push(`${c.now()} ms: ${await fault(run)}`);
      await c.advance(run.between(100, 400));
      c.check();
    }
    c.heal();
    c.setUnreliable(false);
    for (const id of c.ids) if (!c.isRunning(id)) await c.restart(id);
    run.stopping = true;
    await Promise.all(loops);
    await c.waitForLeader();
    const histories = new Map<string, HistoryPage>();
    const resources = new Map<string, ResourceView[]>();
    for (const [id] of TASKS) {
      histories.set(id, (await c.query('history', [id])) as HistoryPage);
      resources.set(id, (await c.query('resources', [id])) as ResourceView[]);
    }
    violations.push(...checkRun({ ops: run.ops, histories, resources, commands: committed(c) }));
    const verification = await c.verify();
    if (verification.diverged.length > 0)
      violations.push(`replicas diverged: ${verification.diverged.join(', ')}`);
    c.check();
  } catch (err) {
    violations.push(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
  } finally {
    await c.stop();
  }
  return { seed, violations, faults, stats: { ...run.stats, ops: run.ops.length, virtualMs: c.now() } };
}
