// One simulated run of the task queue: a SimCluster of TaskQueue replicas
// under a seeded fault schedule (partitions that may cut the leader off,
// crashes and restarts, lossy/slow/duplicating/reordering links, targeted
// drops of replication traffic), with producers enqueuing, workers claiming,
// extending, acking and nacking (some stall past their lease), and a ticker
// proposing tick. Afterwards the faults heal, the workers drain the queues,
// and the checker judges what everyone saw against the final state.
import { CommandRejectedError, seededRandom, type NodeId, type RandomSource } from '@raftline/core';
import { healAll, randomFault, runFaultPhase, SimCluster } from '@raftline/testing';
import {
  isRefusal,
  LIMITS,
  type ClaimedJob,
  type EnqueueOptions,
  type Fenced,
  type JobInfo,
} from '../../src/index';
import { checkHistory, emptyHistory, resultOf, type History } from './checker';
import { AuditedTaskQueue } from './harness';

/** Settings of one run; every field has a default. */
export interface RunOptions {
  readonly nodes?: number;
  /** Virtual time of the faulty phase (default 2500 ms). */
  readonly durationMs?: number;
  readonly producers?: number;
  readonly workers?: number;
  /** Virtual time the healed cluster gets to finish every job (default 15 000 ms). */
  readonly drainMs?: number;
}

export interface RunResult {
  readonly seed: number;
  readonly problems: readonly string[];
  readonly events: readonly string[];
  readonly stats: RunStats;
}

export interface RunStats {
  enqueued: number;
  claims: number;
  acked: number;
  nacked: number;
  /** Refusals of stale tokens (a stalled worker's late call, mostly). */
  stale: number;
  /** Calls whose outcome stayed unknown. */
  unknown: number;
  /** Jobs claimed more than once (a lease expired, or a nack). */
  reclaimed: number;
  dead: number;
  /** The seed's snapshot interval in entries (0: no snapshots). */
  snapshotEvery: number;
}

const QUEUES = ['emails', 'images'] as const;
const LEASE_MS = 150;

/** The fields of an accepted extend, ack or nack this workload reads. */
type FencedAnswer = { at: number; leaseExpiresAt?: number };

/** Nothing is pruned during a run, so the final state still holds every job. */
export const SWEEP_MACHINE_OPTIONS = {
  defaults: { keepDoneCount: LIMITS.keepCount, keepDoneMs: LIMITS.delayMs, keepDeadCount: LIMITS.keepCount },
};

/** Whether err leaves a call's outcome unknown (SimClient retried within its timeout and gave up). */
function isUnknown(err: unknown): boolean {
  const name = err instanceof Error ? err.name : '';
  return name === 'ProposalTimeoutError' || name === 'LeadershipLostError' || name === 'NodeStoppedError';
}

class Run {
  readonly history: History = emptyHistory();
  readonly events: string[] = [];
  readonly stats: RunStats = {
    enqueued: 0,
    claims: 0,
    acked: 0,
    nacked: 0,
    stale: 0,
    unknown: 0,
    reclaimed: 0,
    dead: 0,
    snapshotEvery: 0,
  };
  producing = true;
  working = true;
  /** Workers stall past their lease only during the faulty phase. */
  stalls = true;
  failure: unknown;

  constructor(
    readonly c: SimCluster,
    readonly rng: RandomSource,
  ) {}

  /**
   * Runs one command through client `who`, giving up after 250 to 1500 ms (so
   * that some outcomes stay unknown under faults).
   * @returns its result, or undefined when its outcome is unknown
   */
  async call<T>(who: string, name: string, args: unknown[]): Promise<T | undefined> {
    try {
      return (await this.c
        .client(who)
        .propose({ name, args }, { timeoutMs: 250 + this.rng.nextInt(1250) })) as T;
    } catch (err) {
      if (!isUnknown(err)) throw err;
      this.stats.unknown++;
      return undefined;
    }
  }

  async producer(name: string, rng: RandomSource): Promise<void> {
    for (let n = 0; this.producing && !this.c.stopped; n++) {
      await this.c.sleep(5 + rng.nextInt(40));
      if (!this.producing) return;
      const queue = QUEUES[rng.nextInt(QUEUES.length)]!;
      const batch = rng.nextInt(5) === 0;
      const items = Array.from({ length: batch ? 2 + rng.nextInt(3) : 1 }, (_, k) => ({
        payload: { from: name, n, k },
        options: enqueueOptions(rng),
      }));
      const ids = batch
        ? await this.call<string[]>(name, 'enqueueMany', [queue, items])
        : await this.call<string>(name, 'enqueue', [queue, items[0]!.payload, items[0]!.options]).then(
            (id) => (id === undefined ? undefined : [id]),
          );
      for (const id of ids ?? []) this.history.enqueued.add(id);
      this.stats.enqueued += ids?.length ?? 0;
    }
  }

  async worker(name: string, rng: RandomSource): Promise<void> {
    while (this.working && !this.c.stopped) {
      const queue = QUEUES[rng.nextInt(QUEUES.length)]!;
      const jobs = await this.call<ClaimedJob[]>(name, 'claim', [
        queue,
        name,
        { leaseMs: LEASE_MS, max: 1 + rng.nextInt(3) },
      ]);
      for (const job of jobs ?? []) {
        this.history.claims.push({
          jobId: job.id,
          worker: name,
          token: job.token,
          attempt: job.attempt,
          claimedAt: job.claimedAt,
          expiresAt: job.leaseExpiresAt,
        });
        this.stats.claims++;
        if (job.attempt > 1) this.stats.reclaimed++;
      }
      if (!jobs || jobs.length === 0) {
        await this.c.sleep(10 + rng.nextInt(30));
        continue;
      }
      for (const job of jobs) await this.handle(name, rng, job);
    }
  }

  /** Works on one job: on time, late (past the lease), with an extend, or failing. */
  private async handle(name: string, rng: RandomSource, job: ClaimedJob): Promise<void> {
    const roll = rng.nextInt(100);
    const lease = `${job.id}:${job.token}`;
    // A job that waited behind others of its batch gets its lease extended first.
    if (this.c.now() > job.leaseExpiresAt - LEASE_MS / 2) {
      const r = await this.fenced(name, 'extend', [job.id, job.token, LEASE_MS], lease);
      if (r === undefined || !r.ok) return; // refused, or unknown: the worker lets the job go
    }
    const stall = this.stalls && roll < 12;
    await this.c.sleep(stall ? LEASE_MS + 20 + rng.nextInt(200) : 5 + rng.nextInt(40));
    if (roll >= 12 && roll < 22) {
      const r = await this.fenced(name, 'extend', [job.id, job.token, LEASE_MS], lease);
      if (r === undefined || !r.ok) return;
      await this.c.sleep(rng.nextInt(60));
    }
    if (roll >= 22 && roll < 32) {
      await this.fenced(
        name,
        'nack',
        [job.id, job.token, { error: `${name} failed`, retryInMs: rng.nextInt(2) * 30 }],
        lease,
      );
      return;
    }
    const result = resultOf(job.id, job.token);
    this.history.acksSent.set(lease, result);
    if (rng.nextInt(4) === 0) {
      const answers = await this.call<Fenced<{ at: number }>[]>(name, 'ackMany', [
        [{ jobId: job.id, token: job.token, result }],
      ]);
      if (answers === undefined) this.history.uncertain.add(lease);
      else this.record('ack', job.id, job.token, answers[0]!);
    } else {
      await this.fenced(name, 'ack', [job.id, job.token, result], lease);
    }
  }

  /** A fenced call, recorded. @returns its answer, or undefined when its outcome is unknown */
  private async fenced(
    who: string,
    kind: 'extend' | 'ack' | 'nack',
    args: [string, number, unknown],
    lease: string,
  ): Promise<Fenced<FencedAnswer> | undefined> {
    const answer = await this.call<Fenced<FencedAnswer>>(who, kind, args);
    if (answer === undefined) this.history.uncertain.add(lease);
    else this.record(kind, args[0], args[1], answer);
    return answer;
  }

  private record(
    kind: 'extend' | 'ack' | 'nack',
    jobId: string,
    token: number,
    answer: Fenced<FencedAnswer>,
  ): void {
    if (isRefusal(answer)) {
      if (answer.error === 'StaleTokenError') this.stats.stale++;
      return;
    }
    this.history.accepted.push({
      kind,
      jobId,
      token,
      at: answer.at,
      ...(answer.leaseExpiresAt ? { expiresAt: answer.leaseExpiresAt } : {}),
    });
    if (kind === 'ack') this.stats.acked++;
    if (kind === 'nack') this.stats.nacked++;
  }

  async ticker(): Promise<void> {
    while (this.working && !this.c.stopped) {
      await this.c.sleep(100);
      await this.call('ticker', 'tick', []);
    }
  }

  /** Runs a loop; what it throws (other than an unknown outcome) fails the run. */
  guard(loop: Promise<void>): Promise<void> {
    return loop.catch((err: unknown) => {
      if (err instanceof CommandRejectedError || !this.c.stopped) this.failure ??= err;
    });
  }

  /** One random fault action, drawn with the default weights. @returns what it did */
  fault(): Promise<string> {
    return randomFault(this.c, this.rng);
  }
}

function enqueueOptions(rng: RandomSource): EnqueueOptions {
  const o: { -readonly [K in keyof EnqueueOptions]: EnqueueOptions[K] } = {};
  if (rng.nextInt(3) === 0) o.priority = rng.nextInt(3);
  if (rng.nextInt(5) === 0) o.delayMs = rng.nextInt(200);
  if (rng.nextInt(6) === 0) o.dedupKey = `k${rng.nextInt(4)}`;
  if (rng.nextInt(2) === 0) o.maxAttempts = 2 + rng.nextInt(4);
  if (rng.nextInt(4) === 0)
    o.backoff = { type: rng.nextInt(2) ? 'fixed' : 'exponential', delayMs: 20, maxMs: 80 };
  if (rng.nextInt(8) === 0) o.ttlMs = 1000 + rng.nextInt(2000);
  return o;
}

/** Every enqueued job as the leader's replica holds it at the end, read through listJobs pages (linearizable). */
async function finalJobs(c: SimCluster): Promise<Map<string, JobInfo | null>> {
  const jobs = new Map<string, JobInfo | null>();
  for (const queue of QUEUES) {
    let after: string | undefined;
    do {
      const page = (await c.query('listJobs', [
        queue,
        null,
        { limit: LIMITS.page, ...(after ? { after } : {}) },
      ])) as {
        jobs: JobInfo[];
        next: string | null;
      };
      for (const job of page.jobs) jobs.set(job.id, job);
      after = page.next ?? undefined;
    } while (after);
  }
  return jobs;
}

/** Whether every queue holds only finished jobs. */
async function drainedNow(c: SimCluster): Promise<boolean> {
  for (const queue of QUEUES) {
    const s = (await c.query('stats', [queue])) as { ready: number; delayed: number; leased: number };
    if (s.ready + s.delayed + s.leased > 0) return false;
  }
  return true;
}

/** The audit of every running replica, and whether those that applied as much as the leader hold its state. */
function replicaProblems(c: SimCluster): string[] {
  const problems: string[] = [];
  const leader = c.leader(c.ids);
  const states = new Map<NodeId, string>();
  for (const id of c.ids) {
    if (!c.isRunning(id)) continue;
    const m = c.machine(id) as AuditedTaskQueue;
    problems.push(...m.audit().map((p) => `${id}: ${p}`));
    states.set(id, JSON.stringify(m.snapshotState()));
  }
  if (leader !== undefined) {
    const applied = c.status(leader).appliedIndex;
    for (const id of c.ids) {
      if (id === leader || !states.has(id) || c.status(id).appliedIndex !== applied) continue;
      if (states.get(id) !== states.get(leader))
        problems.push(`${id}: state differs from the leader's at index ${applied}`);
    }
  }
  return problems;
}

/**
 * One run: a pure function of (seed, options).
 * @returns the problems found (empty when the guarantees held), what the faults did, counts
 */
export async function runTaskQueueSeed(seed: number, options: RunOptions = {}): Promise<RunResult> {
  const rng = seededRandom(seed ^ 0x7a5c_0001);
  const snapshotEvery = rng.nextInt(2) === 0 ? 0 : 15 + rng.nextInt(40);
  const c = await SimCluster.create({
    nodes: options.nodes ?? 3,
    seed,
    snapshotEvery,
    stateMachine: () => new AuditedTaskQueue(SWEEP_MACHINE_OPTIONS),
  });
  const run = new Run(c, rng.fork());
  run.stats.snapshotEvery = snapshotEvery;
  const problems: string[] = [];
  const producers = Array.from({ length: options.producers ?? 2 }, (_, k) =>
    run.guard(run.producer(`p${k + 1}`, rng.fork())),
  );
  const workers = Array.from({ length: options.workers ?? 4 }, (_, k) =>
    run.guard(run.worker(`w${k + 1}`, rng.fork())),
  );
  const ticker = run.guard(run.ticker());
  let drained = false;
  try {
    await runFaultPhase(c, {
      untilMs: options.durationMs ?? 2500,
      fault: () => run.fault(),
      rng,
      events: run.events,
      stop: () => run.failure !== undefined,
    });
    run.events.push(`${c.now()} ms: heal, reliable, restart all; producers stop`);
    await healAll(c);
    run.producing = false;
    run.stalls = false;
    await Promise.all(producers);
    const deadline = c.now() + (options.drainMs ?? 15_000);
    while (!drained && c.now() < deadline && run.failure === undefined) {
      await c.sleep(200);
      drained = await drainedNow(c);
    }
    run.working = false;
    await Promise.all([...workers, ticker]);
    c.check();
    const final = await finalJobs(c);
    run.stats.dead = [...final.values()].filter((j) => j?.state === 'dead').length;
    problems.push(...checkHistory(run.history, final, true));
    if (!drained)
      problems.push(`liveness: the queues did not drain within ${options.drainMs ?? 15_000} ms of healing`);
    await c.advance(500); // let followers apply the last entries before comparing them
    problems.push(...replicaProblems(c));
  } catch (err) {
    run.failure ??= err;
  } finally {
    run.producing = false;
    run.working = false;
    await c.stop();
  }
  if (run.failure !== undefined) {
    const f = run.failure;
    problems.unshift(`error: ${f instanceof Error ? `${f.name}: ${f.message}` : String(f)}`);
  }
  return { seed, problems, events: run.events, stats: run.stats };
}
