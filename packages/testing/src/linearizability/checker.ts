/**
 * Linearizability checking by the Wing–Gong / Lowe search (WGL), as in
 * Porcupine: call/return events in a doubly linked list, configurations
 * (decided ops, model state) memoized, one search per partition
 * (P-compositionality), and a shrinker for counterexamples.
 */
import {
  inContext,
  startOf,
  toSearchOp,
  truncate,
  validateHistory,
  type Operation,
  type SearchOp,
} from './history';
import { describeOperationOf, hashStateOf, type Model } from './model';

/** The verdict of `checkLinearizability`. */
export type CheckResult<I, O> =
  | { ok: true; checkedOps: number }
  | { ok: false; counterexample: Operation<I, O>[]; explanation: string } // a SMALL non-linearizable sub-history
  | { ok: 'unknown'; reason: string }; // time budget exceeded

/** Options of `checkLinearizability`. */
export interface CheckOptions {
  /** Time budget of the search, in ms (default 10 000). */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
/** Shrinking takes at most max(this, 10 × the failing search's time), and at most timeoutMs. */
const SHRINK_BUDGET_MS = 2_000;
/** One search while shrinking takes at most max(this, 3 × the failing search's time); slower = "not shown to fail". */
const SHRINK_STEP_MS = 250;
const MAX_LISTED_STATES = 5;
const NIL = -1;
const HEAD = 0;

/**
 * Call and return events in time order, with O(1) lift and unlift of an op's
 * events (dancing links); entry 0 is the head. At equal times calls come
 * first: touching intervals count as concurrent. Ops that never returned
 * have no return event.
 */
class EventList {
  readonly next: Int32Array;
  readonly opAt: Int32Array;
  readonly isCall: Uint8Array;
  private readonly prev: Int32Array;
  private readonly callOf: Int32Array;
  private readonly retOf: Int32Array;

  constructor(ops: readonly SearchOp<unknown, unknown>[]) {
    const events = ops.flatMap((o, op) => [
      { op, time: o.call, call: 1 },
      ...(Number.isFinite(o.ret) ? [{ op, time: o.ret, call: 0 }] : []),
    ]);
    events.sort((a, b) => a.time - b.time || b.call - a.call || a.op - b.op);
    const size = events.length + 1;
    [this.next, this.prev, this.opAt] = [new Int32Array(size), new Int32Array(size), new Int32Array(size)];
    [this.isCall, this.callOf, this.retOf] = [
      new Uint8Array(size),
      new Int32Array(ops.length),
      new Int32Array(ops.length),
    ];
    this.retOf.fill(size); // after every entry: never returned
    events.forEach((e, k) => {
      [this.opAt[k + 1], this.isCall[k + 1], this.prev[k + 1], this.next[k]] = [e.op, e.call, k, k + 1];
      (e.call ? this.callOf : this.retOf)[e.op] = k + 1;
    });
    this.next[size - 1] = NIL;
  }

  /** Returns whether `op` is called before `other` is called (or, with `orReturn`, before it returns). */
  callsBefore(op: number, other: number, orReturn: boolean): boolean {
    return (this.callOf[op] ?? NIL) < ((orReturn ? this.retOf : this.callOf)[other] ?? NIL);
  }
  lift(op: number): void {
    this.unlink(this.callOf[op] ?? NIL);
    this.unlink(this.retOf[op] ?? NIL);
  }
  /** Undoes `lift(op)`; lifts must be undone in reverse order. */
  unlift(op: number): void {
    this.link(this.retOf[op] ?? NIL);
    this.link(this.callOf[op] ?? NIL);
  }
  private unlink(e: number): void {
    const [p, n] = [this.prev[e] ?? NIL, this.next[e] ?? NIL];
    if (p === NIL) return; // no such event
    this.next[p] = n;
    if (n !== NIL) this.prev[n] = p;
  }
  private link(e: number): void {
    const [p, n] = [this.prev[e] ?? NIL, this.next[e] ?? NIL];
    if (p === NIL) return;
    this.next[p] = e;
    if (n !== NIL) this.prev[n] = e;
  }
}

interface MemoEntry {
  bits: Uint32Array;
  done: boolean;
}

/**
 * The decided ops (linearized or dropped) as a bitset, and the memo of
 * configurations already entered, keyed by the state hash and a Zobrist hash
 * of the decided required ops. A configuration is skipped when it was
 * entered before, or when a finished (hence failed) one had the same state
 * and decided a subset of it that lacks only optional ops: those could have
 * been dropped there, so this one cannot succeed either.
 */
class ConfigMemo {
  private readonly seen = new Map<string, Map<number, MemoEntry[]>>();
  private readonly bits: Uint32Array;
  private readonly optional: Uint32Array;
  private zobrist = 0;

  constructor(private readonly required: Uint8Array) {
    this.bits = new Uint32Array((required.length + 31) >>> 5);
    this.optional = new Uint32Array(this.bits.length);
    required.forEach((r, op) => {
      if (!r) this.optional[op >>> 5] = (this.optional[op >>> 5] ?? 0) | (1 << (op & 31));
    });
  }

  toggle(op: number): void {
    this.bits[op >>> 5] = (this.bits[op >>> 5] ?? 0) ^ (1 << (op & 31));
    if (!this.required[op]) return;
    const h = Math.imul(op ^ 0x2545f491, 0x9e3779b1); // murmur3 finalizer: a random-looking key per op
    this.zobrist ^= Math.imul(h ^ (h >>> 16), 0x85ebca6b) ^ (h >>> 13);
  }

  /** Records the current configuration; returns its entry, or undefined when it need not be explored. */
  enter(stateHash: string): MemoEntry | undefined {
    let byState = this.seen.get(stateHash);
    if (byState === undefined) this.seen.set(stateHash, (byState = new Map()));
    const same = byState.get(this.zobrist);
    if (same?.some((e) => this.covers(e))) return undefined;
    const entry = { bits: this.bits.slice(), done: false };
    if (same) same.push(entry);
    else byState.set(this.zobrist, [entry]);
    return entry;
  }

  private covers(e: MemoEntry): boolean {
    let equal = true;
    for (let w = 0; w < this.bits.length; w++) {
      const [cur, old] = [this.bits[w] ?? 0, e.bits[w] ?? 0];
      if ((old & ~cur) !== 0 || (cur & ~old & ~(this.optional[w] ?? 0)) !== 0) return false;
      equal &&= cur === old;
    }
    return equal || e.done;
  }
}

/** A configuration on the search path: the op that entered it, and its choices (op to linearize, ~op to drop). */
interface Level<S> {
  op: number;
  dropped: boolean;
  prevState: S;
  prevHash: string;
  entry: MemoEntry | undefined;
  choices: number[];
  cursor: number;
}

/**
 * One WGL search, iterative with an explicit stack of configurations. The
 * choices of a configuration are the calls before its first unresolved
 * return, required ops first (in call order), then optional ones, then
 * dropping the op of that return if it is optional. It succeeds once every
 * required op is linearized. `rejected` collects states in which op `watch`
 * was impossible; `stuckAt` is the latest return that blocked the search.
 */
class WglSearch<S, I, O> {
  readonly rejected = new Map<string, S>();
  stuckAt = -Infinity;
  private readonly list: EventList;
  private readonly required: Uint8Array;
  /** 1 for a required op the model declares read-only given its output (`Model.readOnly`). */
  private readonly readOnly: Uint8Array;
  private readonly memo: ConfigMemo;
  private readonly path: Level<S>[] = [];
  private state: S;
  private hash: string;
  private requiredLeft: number;

  constructor(
    private readonly ops: readonly SearchOp<I, O>[],
    private readonly model: Model<S, I, O>,
    private readonly deadline: number,
    private readonly watch = NIL,
  ) {
    this.list = new EventList(ops);
    this.required = Uint8Array.from(ops, (o) => (o.required ? 1 : 0));
    this.readOnly = Uint8Array.from(ops, (o) => (o.required && model.readOnly?.(o.input, o.output) ? 1 : 0));
    this.memo = new ConfigMemo(this.required);
    this.state = model.init();
    this.hash = hashStateOf(model, this.state);
    this.requiredLeft = ops.filter((o) => o.required).length;
    this.path.push(this.level(NIL, false, undefined));
  }

  /** Returns 'ok' if a linearization exists, 'fail' if none does, 'timeout' past the deadline. */
  run(): 'ok' | 'fail' | 'timeout' {
    for (let steps = 1; this.requiredLeft > 0; steps++) {
      if ((steps & 1023) === 0 && Date.now() > this.deadline) return 'timeout';
      const top = this.path[this.path.length - 1];
      if (top === undefined) return 'fail';
      const choice = top.choices[top.cursor++];
      if (choice === undefined) this.backtrack(top);
      else if (choice < 0) this.enter(~choice, this.state, this.hash, true);
      else this.tryLinearize(choice, top);
    }
    return 'ok';
  }

  /** Builds the configuration entered by deciding `op` (before the state changes). */
  private level(op: number, dropped: boolean, entry: MemoEntry | undefined): Level<S> {
    const [required, optional]: [number[], number[]] = [[], []];
    let e = this.list.next[HEAD] ?? NIL;
    for (; e !== NIL && this.list.isCall[e]; e = this.list.next[e] ?? NIL) {
      const candidate = this.list.opAt[e] ?? NIL;
      (this.required[candidate] ? required : optional).push(candidate);
    }
    const blocker = e === NIL ? NIL : (this.list.opAt[e] ?? NIL);
    if (blocker !== NIL && !this.required[blocker]) optional.push(~blocker);
    this.stuckAt = Math.max(this.stuckAt, this.ops[blocker]?.ret ?? -Infinity);
    const choices = [...required, ...optional];
    return { op, dropped, prevState: this.state, prevHash: this.hash, entry, choices, cursor: 0 };
  }

  private tryLinearize(op: number, top: Level<S>): void {
    const o = this.ops[op];
    const next = o && this.model.step(this.state, o.input, o.output);
    if (!o || !next?.ok) {
      if (op === this.watch && this.rejected.size < MAX_LISTED_STATES)
        this.rejected.set(this.hash, this.state);
      return;
    }
    const hash = next.state === this.state ? this.hash : hashStateOf(this.model, next.state);
    // An optional op that leaves the state as it is here can be dropped instead: no need to try it.
    if (hash === this.hash && !o.required) return;
    // A required read-only op can move to the front of any linearization from here (it changes no
    // state where it is moved from): no other choice is needed. A write that leaves this state as it
    // is (a put of the current value) may be needed later, where it does change the state: not free.
    if (this.readOnly[op] && hash === this.hash) top.cursor = top.choices.length;
    if (!this.erasesOptional(op, o, hash, top)) this.enter(op, next.state, hash, false);
  }

  /**
   * Whether `op` erases the optional op linearized just before it: if the
   * configuration before that one already tried `op` (a required op, or an
   * optional one called earlier) and reached the same state, that sibling
   * (one optional op fewer) failed, so this one fails too.
   */
  private erasesOptional(op: number, o: SearchOp<I, O>, hash: string, top: Level<S>): boolean {
    const p = top.op;
    if (p === NIL || top.dropped || this.required[p]) return false;
    if (!this.list.callsBefore(op, p, this.required[op] === 1)) return false;
    const direct = this.model.step(top.prevState, o.input, o.output);
    return direct.ok && hashStateOf(this.model, direct.state) === hash;
  }

  private enter(op: number, state: S, hash: string, dropped: boolean): void {
    this.memo.toggle(op);
    const entry = this.memo.enter(hash);
    if (entry === undefined) return this.memo.toggle(op);
    this.list.lift(op);
    if (this.required[op]) this.requiredLeft--;
    this.path.push(this.level(op, dropped, entry));
    [this.state, this.hash] = [state, hash];
  }

  /** Leaves a configuration whose choices are exhausted: it failed. */
  private backtrack(top: Level<S>): void {
    this.path.pop();
    if (top.entry) top.entry.done = true;
    if (top.op === NIL) return;
    this.list.unlift(top.op);
    this.memo.toggle(top.op);
    [this.state, this.hash] = [top.prevState, top.prevHash];
    if (this.required[top.op]) this.requiredLeft++;
  }
}

/** The time budget of shrinking: when it ends, and how long one search may take. */
interface Budget {
  end: number;
  stepMs: number;
}

function fails<S, I, O>(ops: readonly SearchOp<I, O>[], model: Model<S, I, O>, budget: Budget): boolean {
  return new WglSearch(ops, model, Math.min(budget.end, Date.now() + budget.stepMs)).run() === 'fail';
}

/**
 * Finds the earliest return time at which the truncated history fails
 * (sound: linearizable histories are prefix-closed). The full search got
 * stuck at `from`, so it is a lower bound, and usually the answer. Returns
 * it, with the states in which the first op returning then was impossible.
 */
function findCut<S, I, O>(
  sorted: readonly Operation<I, O>[],
  model: Model<S, I, O>,
  from: number,
  budget: Budget,
): { cut: number; rejected: S[] } {
  const returns = [...new Set(sorted.map((op) => op.return ?? Infinity))].filter(
    (t) => t >= from && t < Infinity,
  );
  returns.sort((a, b) => a - b);
  let rejected: S[] = [];
  const failsAt = (i: number): boolean => {
    const window = truncate(sorted, returns[i] ?? Infinity);
    const watch = window.findIndex((op) => op.required && op.ret === returns[i]);
    const search = new WglSearch(window, model, Math.min(budget.end, Date.now() + budget.stepMs), watch);
    if (search.run() !== 'fail') return false;
    rejected = [...search.rejected.values()];
    return true;
  };
  // Invariant: truncating at returns[hi] fails, and `rejected` is from that search if it ran.
  let [lo, hi] = failsAt(0) ? [0, 0] : [1, returns.length - 1];
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    [lo, hi] = failsAt(mid) ? [lo, mid] : [mid + 1, hi];
  }
  return { cut: returns[hi] ?? Infinity, rejected };
}

function pick<T>(items: readonly T[], indices: readonly number[]): T[] {
  return [...indices].sort((a, b) => a - b).flatMap((i) => items[i] ?? []);
}

/** Delta debugging: removes chunks of `keep` (halving their size) while the rest `failsWith`; returns the rest. */
function minimize(keep: number[], failsWith: (keep: number[]) => boolean, deadline: number): number[] {
  for (let chunk = Math.ceil(keep.length / 2); chunk >= 1 && Date.now() <= deadline;) {
    let removed = false;
    for (let start = 0; start < keep.length && Date.now() <= deadline;) {
      const candidate = [...keep.slice(0, start), ...keep.slice(start + chunk)];
      if (candidate.length > 0 && failsWith(candidate)) [keep, removed] = [candidate, true];
      else start += chunk;
    }
    if (chunk === 1 && !removed) break;
    chunk = Math.max(1, Math.min(Math.ceil(chunk / 2), Math.ceil(keep.length / 2)));
  }
  return keep;
}

/** What shrinking found, for `explain`. */
interface Shrunk<S, I, O> {
  ops: Operation<I, O>[];
  culprit: Operation<I, O> | undefined;
  rejected: S[];
  context: number;
  start: number;
  finished: boolean;
}

/**
 * Shrinks a non-linearizable partition: truncates it where it starts to
 * fail; keeps the op whose return makes it fail, or else a few ops that fail
 * given their context (the ops returned before them, as recorded) with every
 * other op relaxed; then adds ops until they fail on their own.
 * Returns original op objects, sorted by call.
 */
function shrink<S, I, O>(
  part: readonly Operation<I, O>[],
  model: Model<S, I, O>,
  stuckAt: number,
  budget: Budget,
): Shrunk<S, I, O> {
  const sorted = [...part].sort((a, b) => a.call - b.call);
  const { cut, rejected } = findCut(sorted, model, stuckAt, budget);
  const window = truncate(sorted, cut);
  const failsInContext = (keep: number[]): boolean => fails(inContext(window, keep), model, budget);
  const all = window.map((_, i) => i);
  const endings = all.filter((i) => window[i]?.required && window[i]?.ret === cut);
  const alone = endings.find((i) => failsInContext([i]));
  const core = alone !== undefined ? [alone] : minimize(all, failsInContext, budget.end);
  const failsWith = (keep: number[]): boolean => fails(pick(window, [...core, ...keep]), model, budget);
  const others = all.filter((i) => !core.includes(i));
  const extra = failsWith([]) ? [] : minimize(others, failsWith, budget.end);
  const start = startOf(window, core);
  return {
    ops: pick(sorted, [...core, ...extra]),
    culprit: sorted[endings[0] ?? NIL],
    rejected,
    context: window.filter((op, i) => op.ret < start && !core.includes(i)).length,
    start,
    finished: Date.now() <= budget.end,
  };
}

/** Returns a multi-line explanation of a shrunk counterexample found in partition `where`. */
function explain<S, I, O>(model: Model<S, I, O>, where: string, s: Shrunk<S, I, O>): string {
  const describe = (op: Operation<I, O>): string => describeOperationOf(model, op);
  const plural = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;
  const lines = [`${where} is not linearizable.`];
  if (s.culprit) lines.push(`No linearization survives the return of ${describe(s.culprit)}.`);
  const states = s.rejected.map((state) => JSON.stringify(state)).join(', ');
  if (states) lines.push(`That op was impossible in the state(s) it could have found: ${states}.`);
  const budget = s.finished ? '' : ', shrinking stopped at its time budget';
  lines.push(`Counterexample (${plural(s.ops.length, 'op')}, not linearizable on their own${budget}):`);
  lines.push(...s.ops.map((op) => `  ${describe(op)}`));
  lines.push(
    `They fail in the partition even with its ${plural(s.context, 'op')} that returned before ${s.start} ` +
      'taken as recorded and every other op free to take effect anywhere within its own interval, or not at all.',
  );
  return lines.join('\n');
}

/**
 * Checks that `history` is linearizable with respect to `model`: that some
 * total order of its ops respects real time (an op that returned before
 * another was called comes first) and `model.step` accepts every output.
 * Ops that never returned may take effect at any time after their call, or
 * never. Partitions (if `model.partition`) are checked independently,
 * smallest first.
 *
 * Returns `{ ok: true }`; or `{ ok: false }` with a small counterexample (the
 * original op objects, sorted by call, not linearizable on their own) and an
 * explanation naming the partition; or `{ ok: 'unknown' }` when
 * `opts.timeoutMs` (default 10 s) runs out. Shrinking a counterexample takes
 * at most max(2 s, 10 × the failing search's time) more, capped at timeoutMs.
 * Throws RangeError if an op has no numeric call or returns before its call;
 * rethrows what `model` throws.
 */
export function checkLinearizability<S, I, O>(
  history: Operation<I, O>[],
  model: Model<S, I, O>,
  opts: CheckOptions = {},
): CheckResult<I, O> {
  validateHistory(history);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  const parts = (model.partition ? model.partition(history) : [history]).filter((p) => p.length > 0);
  const order = parts.map((_, i) => i).sort((a, b) => (parts[a]?.length ?? 0) - (parts[b]?.length ?? 0));
  let checkedOps = 0;
  for (const [done, i] of order.entries()) {
    const part = parts[i] ?? [];
    const where = `partition ${i + 1} of ${parts.length} (${part.length} ops)`;
    const search = new WglSearch(part.map(toSearchOp), model, deadline);
    const started = Date.now();
    const outcome = started > deadline ? 'timeout' : search.run();
    if (outcome === 'timeout') {
      const reason = `time budget of ${timeoutMs} ms exceeded at ${where}, after ${done} of ${parts.length} partitions were found linearizable`;
      return { ok: 'unknown', reason };
    }
    if (outcome === 'fail') {
      const took = Date.now() - started;
      const budgetMs = Math.min(timeoutMs, Math.max(SHRINK_BUDGET_MS, 10 * took));
      const shrunk = shrink(part, model, search.stuckAt, {
        end: Date.now() + budgetMs,
        stepMs: Math.max(SHRINK_STEP_MS, 3 * took),
      });
      return { ok: false, counterexample: shrunk.ops, explanation: explain(model, where, shrunk) };
    }
    checkedOps += part.length;
  }
  return { ok: true, checkedOps };
}
