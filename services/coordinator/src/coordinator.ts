import {
  Command,
  DecodeError,
  Query,
  ReplicatedStateMachine,
  StateMachine,
  Tick,
  Validate,
  type MachineMetric,
  type MachineMetrics,
} from '@raftline/core';
import * as holder from './holder-ops';
import { checkpointProblem, writeProblem, type OpCtx } from './holder-ops';
import * as human from './human-ops';
import { coordinatorMetrics, handoffsOf } from './metrics';
import { resolveCoordinatorOptions, type CoordinatorOptions } from './options';
import * as registry from './registry-ops';
import { taskOptionsProblem } from './registry-ops';
import type {
  ActResult,
  CampaignResult,
  CheckpointResult,
  RegisterResult,
  RemoveResult,
  RenewResult,
  ResignResult,
  TaskResult,
  TickResult,
  UnregisterResult,
  WithdrawResult,
} from './results';
import {
  candidateInfoSchema,
  checkpointSchema,
  checkpointSeqSchema,
  epochSchema,
  idSchema,
  progressSchema,
  reasonSchema,
  taskOptionsSchema,
  writeSchema,
} from './schemas';
import type { CandidateRecord, CoordinatorState, TaskRecord } from './state';
import type {
  CandidateInfo,
  CandidateView,
  Checkpoint,
  CheckpointInput,
  FenceAnswer,
  HistoryPage,
  Progress,
  ResourceView,
  ResourceWrite,
  TaskOptions,
  TaskView,
} from './types';
import { candidateView, resourceView, taskView } from './views';

/** Format version of Coordinator.snapshotState(). */
const STATE_VERSION = 1;

/**
 * How often the group's leader proposes tick(), in ms of its clock. A lease
 * ends at its expiry in replicated time whatever the ticks do (every command
 * settles the tasks it touches first); the tick only makes the handoff happen
 * without a client's command, so a vacancy is filled at most about this long
 * after the lease ran out (plus one commit). 500 ms is a twentieth of the
 * default lease: one small log entry per half second per group.
 */
export const TICK_EVERY_MS = 500;

/** Most tasks one tasks() page holds. */
export const MAX_PAGE = 1000;

/**
 * "Who decides": coordinator leases for tasks, with epochs and fencing,
 * selection policies, checkpoints handed to the next coordinator, and human
 * override (services/coordinator/README.md has the semantics).
 *
 * Contract:
 * - every decision is taken in a command, at its replicated time
 *   (this.context.time): a lease is unexpired while that time is below its
 *   expiry; no replica's clock is ever read. Each command settles the tasks
 *   it touches first (ends expired leases, fills vacancies); tick() settles all.
 * - per task, epochs strictly increase (one per grant) and tenures never
 *   overlap in replicated time; a new coordinator is handed the last checkpoint.
 * - an operation naming an epoch (renew, resign, checkpoint, act, a fenced
 *   createTask) goes through only while that epoch holds the task with an
 *   unexpired lease; otherwise it returns a Refusal whose `error` names why
 *   (StaleEpochError, LeaseExpiredError, NotCoordinatorError, …; see
 *   REFUSALS). Commands never throw for such outcomes: a refusal is a value,
 *   kept for exactly-once retries and visible on the committed stream;
 *   unwrap() turns it into the named error.
 * - malformed arguments (ids, epochs, policies, writes, sizes) are refused
 *   before replication with CommandRejectedError naming the argument.
 * - queries answer from this replica's state as of its last applied
 *   command (asOf): ask with 'linearizable' consistency for an answer no
 *   older than the call.
 *
 * Every replica of a group must be built with the same options.
 */
@StateMachine('coordinator')
export class Coordinator extends ReplicatedStateMachine implements MachineMetrics {
  private taskRecords = new Map<string, TaskRecord>();
  private candidateRecords = new Map<string, CandidateRecord>();
  /** Replicated time of the last command applied. */
  private time = 0;
  private readonly options: Required<CoordinatorOptions>;
  /** Handoffs of the tasks this replica removed since it started: a metric (metrics.ts), not replicated state. */
  private removedHandoffs = 0;

  /** @throws ConfigError naming every bad option */
  constructor(options: CoordinatorOptions = {}) {
    super();
    this.options = resolveCoordinatorOptions(options);
  }

  private get state(): CoordinatorState {
    return { tasks: this.taskRecords, candidates: this.candidateRecords };
  }

  /** The context of the command being applied; records its time for queries. */
  private op(): OpCtx {
    const { time, index } = this.context;
    this.time = time;
    return { now: time, index, historyLimit: this.options.historyLimit, options: this.options };
  }

  // ------------------------------------------------------- candidates, tasks

  /** Registers a candidate, or updates its capabilities and load. */
  @Command({ args: [idSchema, candidateInfoSchema] })
  register(candidate: string, info?: CandidateInfo): RegisterResult {
    return registry.register(this.state, this.op(), candidate, info);
  }

  /** Unregisters a candidate; its tenures end ('unregistered') and their tasks select anew. */
  @Command({ args: [idSchema] })
  unregister(candidate: string): UnregisterResult {
    return registry.unregister(this.state, this.op(), candidate);
  }

  /** Creates a task (a subtask with options.parent). */
  @Command({ args: [idSchema, taskOptionsSchema] })
  createTask(task: string, options?: TaskOptions): TaskResult {
    return registry.createTask(this.state, this.op(), task, options);
  }

  @Validate('createTask')
  protected checkCreateTask(_task: string, options?: TaskOptions): string | undefined {
    const problem = taskOptionsProblem(options, { options: this.options });
    return problem && `args[1] (options): ${problem}`;
  }

  /** Removes a task without subtasks (a human's act: `by` names who). */
  @Command({ args: [idSchema, idSchema] })
  removeTask(task: string, by: string): RemoveResult {
    const handoffs = handoffsOf(this.taskRecords.get(task) ?? { epoch: 0 });
    const result = registry.removeTask(this.state, this.op(), task, by);
    if (result.ok) this.removedHandoffs += handoffs;
    return result;
  }

  /**
   * Settles every task at this command's time: expiries, failure detection
   * by time, vacancies. The leader proposes it every TICK_EVERY_MS (@Tick);
   * clients may send it too.
   */
  @Tick({ everyMs: TICK_EVERY_MS })
  tick(): TickResult {
    return registry.tick(this.state, this.op());
  }

  // ------------------------------------------------- candidates, coordinators

  /** Applies for a task; 'elected' (with the last checkpoint) when the candidate holds it. */
  @Command({ args: [idSchema, idSchema] })
  campaign(task: string, candidate: string): CampaignResult {
    return holder.campaign(this.state, this.op(), task, candidate);
  }

  /** Stops applying for a task. */
  @Command({ args: [idSchema, idSchema] })
  withdraw(task: string, candidate: string): WithdrawResult {
    return holder.withdraw(this.state, this.op(), task, candidate);
  }

  /** The heartbeat: extends the lease of `epoch`, with progress for failure detection. */
  @Command({ args: [idSchema, epochSchema, progressSchema] })
  renew(task: string, epoch: number, progress?: Progress): RenewResult {
    return holder.renew(this.state, this.op(), task, epoch, progress);
  }

  /** Ends `epoch` now, after storing its checkpoint if given; the next coordinator is selected at once. */
  @Command({ args: [idSchema, epochSchema, checkpointSchema.optional()] })
  resign(task: string, epoch: number, checkpoint?: CheckpointInput): ResignResult {
    return holder.resign(this.state, this.op(), task, epoch, checkpoint);
  }

  @Validate('resign')
  protected checkResign(_task: string, _epoch: number, checkpoint?: CheckpointInput): string | undefined {
    const problem = checkpoint && checkpointProblem(checkpoint, this.options);
    return problem && `args[2] (checkpoint): ${problem}`;
  }

  /** Stores the checkpoint the next coordinator will receive; with approval, waits for it. */
  @Command({ args: [idSchema, epochSchema, checkpointSchema] })
  checkpoint(task: string, epoch: number, checkpoint: CheckpointInput): CheckpointResult {
    return holder.checkpoint(this.state, this.op(), task, epoch, checkpoint);
  }

  @Validate('checkpoint')
  protected checkCheckpoint(_task: string, _epoch: number, checkpoint: CheckpointInput): string | undefined {
    const problem = checkpointProblem(checkpoint, this.options);
    return problem && `args[2] (checkpoint): ${problem}`;
  }

  /** The guarded write: applied only while `epoch` holds the task with an unexpired lease. */
  @Command({ args: [idSchema, epochSchema, idSchema, writeSchema] })
  act(task: string, epoch: number, resource: string, write: ResourceWrite): ActResult {
    return holder.act(this.state, this.op(), task, epoch, resource, write);
  }

  @Validate('act')
  protected checkAct(
    _task: string,
    _epoch: number,
    _resource: string,
    write: ResourceWrite,
  ): string | undefined {
    const problem = writeProblem(write, this.options);
    return problem && `args[3] (write): ${problem}`;
  }

  // ------------------------------------------------------------------ humans

  /** Hands the task to `candidate` now (a new epoch), or when resumed or approved. */
  @Command({ args: [idSchema, idSchema, idSchema] })
  designate(task: string, candidate: string, by: string): TaskResult {
    return human.designate(this.state, this.op(), task, candidate, by);
  }

  /** Takes the task from its coordinator; the next one is selected. */
  @Command({ args: [idSchema, idSchema, reasonSchema] })
  revoke(task: string, by: string, reason?: string): TaskResult {
    return human.revoke(this.state, this.op(), task, by, reason);
  }

  /** Pauses the task and its subtasks: their tenures end, nobody is selected. */
  @Command({ args: [idSchema, idSchema] })
  pause(task: string, by: string): TaskResult {
    return human.pause(this.state, this.op(), task, by);
  }

  /** Resumes a paused task and the subtasks paused with it. */
  @Command({ args: [idSchema, idSchema] })
  resume(task: string, by: string): TaskResult {
    return human.resume(this.state, this.op(), task, by);
  }

  /** Approves the checkpoint a task waits on: a new epoch starts (for `next`, if given). */
  @Command({ args: [idSchema, checkpointSeqSchema, idSchema, idSchema.optional()] })
  approve(task: string, checkpoint: number, by: string, next?: string): TaskResult {
    return human.approve(this.state, this.op(), task, checkpoint, by, next);
  }

  // ----------------------------------------------------------------- queries

  /** @returns the task as of the last applied command, or null when there is none */
  @Query()
  task(task: string): TaskView | null {
    const t = this.taskRecords.get(task);
    return t ? taskView(t, this.time) : null;
  }

  /**
   * One page of tasks in id order: the subtasks of `parent`, or the root
   * tasks without it; from after `after`, at most `limit` (default and most: MAX_PAGE).
   * @returns the page, and the id to pass as `after` for the next one (null: no more)
   */
  @Query()
  tasks(query: { parent?: string; after?: string; limit?: number } = {}): {
    tasks: TaskView[];
    next: string | null;
  } {
    const limit = Math.max(1, Math.min(MAX_PAGE, Math.floor(query.limit ?? MAX_PAGE)));
    const ids =
      query.parent !== undefined
        ? [...(this.taskRecords.get(query.parent)?.children ?? [])]
        : [...this.taskRecords.values()].filter((t) => t.parent === null).map((t) => t.id);
    const after = query.after;
    const page = ids
      .sort()
      .filter((id) => after === undefined || id > after)
      .slice(0, limit + 1);
    const more = page.length > limit;
    const shown = page.slice(0, limit);
    return {
      tasks: shown.map((id) => taskView(this.taskRecords.get(id)!, this.time)),
      next: more ? shown[shown.length - 1]! : null,
    };
  }

  /** @returns the registered candidate, or null */
  @Query()
  candidate(candidate: string): CandidateView | null {
    const c = this.candidateRecords.get(candidate);
    return c ? candidateView(c) : null;
  }

  /** @returns every registered candidate, in id order */
  @Query()
  candidates(): CandidateView[] {
    return [...this.candidateRecords.keys()]
      .sort()
      .map((id) => candidateView(this.candidateRecords.get(id)!));
  }

  /** @returns the task's last checkpoint, state included (null: none, or no such task) */
  @Query()
  lastCheckpoint(task: string): Checkpoint | null {
    const c = this.taskRecords.get(task)?.checkpoint;
    return c ? { ...c } : null;
  }

  /**
   * Whether `epoch` holds the task with a lease unexpired as of the last
   * applied command (asOf). A query sees no time beyond that: a lease may
   * have run out since. For a decision that must hold where it lands, use
   * act(), or keep the highest epoch at the resource (README, "Fencing").
   */
  @Query()
  fence(task: string, epoch: number): FenceAnswer {
    const t = this.taskRecords.get(task);
    if (!t) {
      return {
        task,
        epoch,
        exists: false,
        current: false,
        currentEpoch: 0,
        holder: null,
        leaseExpiresAt: 0,
        asOf: this.time,
      };
    }
    const current = t.status === 'held' && t.epoch === epoch && t.leaseExpiresAt > this.time;
    return {
      task,
      epoch,
      exists: true,
      current,
      currentEpoch: t.epoch,
      holder: t.holder,
      leaseExpiresAt: t.leaseExpiresAt,
      asOf: this.time,
    };
  }

  /** @returns a resource of the task (a deleted one as a tombstone), or null */
  @Query()
  resource(task: string, name: string): ResourceView | null {
    const r = this.taskRecords.get(task)?.resources.get(name);
    return r ? resourceView(task, name, r) : null;
  }

  /** @returns every resource of the task, in name order ([] for no such task) */
  @Query()
  resources(task: string): ResourceView[] {
    const t = this.taskRecords.get(task);
    if (!t) return [];
    return [...t.resources.keys()].sort().map((name) => resourceView(task, name, t.resources.get(name)!));
  }

  /**
   * The task's events with seq > after, oldest first (coordinator changes,
   * checkpoints, human operations); the history keeps the last historyLimit.
   * @returns the page, or null for no such task
   */
  @Query()
  history(task: string, after = 0): HistoryPage | null {
    const t = this.taskRecords.get(task);
    if (!t) return null;
    return {
      task,
      events: t.events.filter((e) => e.seq > after).map((e) => ({ ...e })),
      firstSeq: t.events[0]?.seq ?? t.eventSeq + 1,
      lastSeq: t.eventSeq,
      asOf: this.context.time,
    };
  }

  /** Tasks by status, candidates, handoffs (metrics.ts): read by raftline serve's /metrics. */
  metrics(): MachineMetric[] {
    return coordinatorMetrics(this.taskRecords, this.candidateRecords, this.removedHandoffs);
  }

  // --------------------------------------------------------------- snapshots

  override snapshotState(): unknown {
    return {
      version: STATE_VERSION,
      tasks: this.taskRecords,
      candidates: this.candidateRecords,
      time: this.time,
    };
  }

  /** @throws DecodeError when state is not a Coordinator snapshot of this version */
  override restoreState(state: unknown): void {
    const s = state as { version?: unknown; tasks?: unknown; candidates?: unknown; time?: unknown } | null;
    if (
      s === null ||
      typeof s !== 'object' ||
      s.version !== STATE_VERSION ||
      !(s.tasks instanceof Map) ||
      !(s.candidates instanceof Map) ||
      typeof s.time !== 'number'
    ) {
      throw new DecodeError(
        `Coordinator: snapshot state is not a version-${STATE_VERSION} coordinator state`,
      );
    }
    this.taskRecords = s.tasks as Map<string, TaskRecord>;
    this.candidateRecords = s.candidates as Map<string, CandidateRecord>;
    this.time = s.time;
  }
}
