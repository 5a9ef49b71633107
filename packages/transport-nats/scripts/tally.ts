import {
  Command,
  MachineHost,
  Query,
  ReplicatedStateMachine,
  StateMachine,
  type Applier,
  type ApplyContext,
  type ApplyResult,
  type CommandEnvelope,
  type CommandRequest,
  type CommittedEvent,
  type CommittedOptions,
  type OutcomeKind,
  type Role,
} from '@raftline/core';

/**
 * A replicated tally for the committed-stream tests: `add(key, n)` adds a
 * positive n to key's total and returns the new total; any other n makes
 * the handler throw (the command fails on every replica, changing nothing).
 * Run behind a MachineHost, so client sessions deduplicate retries.
 */
@StateMachine('tally')
export class TallyMachine extends ReplicatedStateMachine {
  totals = new Map<string, number>();

  @Command()
  add(key: string, n: number): number {
    if (typeof n !== 'number' || !(n > 0)) throw new Error(`amount ${String(n)} must be positive`);
    const next = (this.totals.get(key) ?? 0) + n;
    this.totals.set(key, next);
    return next;
  }

  /** Every key's total. */
  @Query()
  all(): Record<string, number> {
    return Object.fromEntries(this.totals);
  }
}

/** What a projection of the committed stream holds: totals, and how many events of each outcome it saw. */
export interface TallyView {
  /** Totals folded from the applied `add` commands only. */
  readonly totals: Record<string, number>;
  /** Totals folded from every `add` command, whatever its outcome: what a projection that ignores outcomes gets. */
  readonly naive: Record<string, number>;
  readonly counts: Record<OutcomeKind, number>;
  /** Index of the last event folded (0: none). */
  readonly lastIndex: number;
  /** Why the projection stopped early, if it did ("<name>: <message>"). */
  readonly error?: string;
}

/**
 * A projection of the tally built from committed events, the way a consumer
 * of the stream would build one: it folds applied commands into totals.
 */
export class TallyProjection {
  private readonly totals = new Map<string, number>();
  private readonly naive = new Map<string, number>();
  private readonly counts: Record<OutcomeKind, number> = { applied: 0, failed: 0, duplicate: 0 };
  private lastIndex = 0;
  private error: string | undefined;

  /** Folds one event (any outcome): applied adds count toward totals, every add toward naive. */
  fold(e: Pick<CommittedEvent, 'index' | 'command'> & { outcome: { kind: OutcomeKind } }): void {
    this.lastIndex = e.index;
    this.counts[e.outcome.kind]++;
    if (e.command.name !== 'add') return;
    const key = String(e.command.args[0]);
    const n = Number(e.command.args[1]);
    this.naive.set(key, (this.naive.get(key) ?? 0) + n);
    if (e.outcome.kind === 'applied') this.totals.set(key, (this.totals.get(key) ?? 0) + n);
  }

  /** Folds a stream until it ends or fails (the failure is recorded, not thrown). */
  async run(events: AsyncIterable<CommittedEvent>): Promise<void> {
    try {
      for await (const e of events) this.fold(e);
    } catch (err) {
      this.error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    }
  }

  view(): TallyView {
    return {
      totals: Object.fromEntries(this.totals),
      naive: Object.fromEntries(this.naive),
      counts: { ...this.counts },
      lastIndex: this.lastIndex,
      ...(this.error ? { error: this.error } : {}),
    };
  }
}

/**
 * The tally behind a MachineHost (sessions, snapshots of its own), following
 * the replica's role as CounterApplier does, for replica.ts to report.
 */
export class TallyApplier implements Applier {
  readonly host = new MachineHost(new TallyMachine());
  /** Always empty: a tally replica reports totals (state()) instead of applied keys. */
  readonly applied: string[] = [];
  role: Role = 'follower';
  leaderId = '';
  term = 0;
  /** When (ms since the epoch) this replica last became leader. */
  leaderSince = 0;

  validate(request: CommandRequest): void {
    this.host.validate(request);
  }

  apply(command: CommandEnvelope, ctx: ApplyContext): ApplyResult {
    return this.host.apply(command, ctx);
  }

  query(name: string, args: readonly unknown[]): unknown {
    return this.host.query(name, args);
  }

  snapshot(): Uint8Array {
    return this.host.snapshot();
  }

  restore(data: Uint8Array): void {
    this.host.restore(data);
  }

  onRoleChange(role: Role, leaderId: string, term: number): void {
    if (role === 'leader' && this.role !== 'leader') this.leaderSince = Date.now();
    this.role = role;
    this.leaderId = leaderId;
    this.term = term;
  }

  /** Every key's total, as the machine holds it. */
  state(): Record<string, number> {
    return this.host.query('all', []) as Record<string, number>;
  }
}

/** What replica.ts reports of a tally replica's own projections (RAFT_PROJECTION=1). */
export interface TallyProjections {
  /** Folded from committed() with the default filter (applied commands only). */
  readonly applied: TallyView;
  /** Folded from committed({ outcomes: 'all' }). */
  readonly all: TallyView;
}

/** Starts both projections of a replica's committed stream from index 1; view() reads them. */
export function startProjections(node: {
  committed(options?: CommittedOptions): AsyncIterable<CommittedEvent>;
}): { view(): TallyProjections } {
  const applied = new TallyProjection();
  const all = new TallyProjection();
  void applied.run(node.committed({ fromIndex: 1 }));
  void all.run(node.committed({ fromIndex: 1, outcomes: 'all' }));
  return { view: () => ({ applied: applied.view(), all: all.view() }) };
}
