/**
 * Client histories for the linearizability checker: one `Operation` per client
 * call, with its real-time interval, and a recorder that builds them.
 */

/**
 * One client operation: what was asked, what came back, and when.
 *
 * An operation without `return` never returned (timeout, crash): it may or may
 * not have taken effect, at any time after `call`, and its output is unknown.
 */
export interface Operation<I, O> {
  clientId: number | string;
  input: I;
  /** Absent when the op never returned: it may or may not have taken effect. */
  output?: O;
  /** Invoke time: any monotonic number (e.g. virtual ms). */
  call: number;
  /** Absent = never returned (treated as +Infinity: output unknown, and the op may be omitted entirely). */
  return?: number;
}

/**
 * Records operations as a test runs them: `invoke` when a client sends a
 * request, `complete` when its response arrives. Operations never completed
 * stay pending in `history()`.
 */
export class HistoryRecorder<I, O> {
  private readonly ops: Operation<I, O>[] = [];

  /**
   * Records the call of `input` by `clientId` at `time`.
   * Returns the handle to pass to `complete`.
   * Throws RangeError if `time` is not a number (NaN).
   */
  invoke(clientId: number | string, input: I, time: number): number {
    assertTime(time, 'invoke');
    this.ops.push({ clientId, input, call: time });
    return this.ops.length - 1;
  }

  /**
   * Records that the operation `handle` returned `output` at `time`.
   * Throws RangeError if the handle is unknown, the operation already
   * completed, or `time` is before the operation's call.
   */
  complete(handle: number, output: O, time: number): void {
    assertTime(time, 'complete');
    const op = this.ops[handle];
    if (op === undefined) throw new RangeError(`HistoryRecorder.complete: unknown handle ${handle}`);
    if (op.return !== undefined) {
      throw new RangeError(`HistoryRecorder.complete: operation ${handle} already completed at ${op.return}`);
    }
    if (time < op.call) {
      throw new RangeError(
        `HistoryRecorder.complete: time (${time}) is before the call of operation ${handle} (${op.call})`,
      );
    }
    op.output = output;
    op.return = time;
  }

  /** Returns a copy of every recorded operation in invoke order; pending ones have no `output`/`return`. */
  history(): Operation<I, O>[] {
    return this.ops.map((op) => ({ ...op }));
  }
}

/* The search's view of operations, and the views of a history it checks while shrinking. */

/**
 * An operation as the search sees it. A `required` op returned: it must be
 * linearized within [call, ret]. An optional op may be linearized once before
 * `ret` (Infinity when it never returned), or not at all; its output is unknown.
 */
export interface SearchOp<I, O> {
  input: I;
  output: O | undefined;
  call: number;
  ret: number;
  required: boolean;
}

/** Returns `op` as the search sees it: required when it returned, else optional with unknown output. */
export function toSearchOp<I, O>(op: Operation<I, O>): SearchOp<I, O> {
  const ret = op.return ?? Infinity;
  const required = Number.isFinite(ret);
  return { input: op.input, output: required ? op.output : undefined, call: op.call, ret, required };
}

/** Returns the history (sorted by call) as of time `cut`: ops called by then; those not returned by then become optional. */
export function truncate<I, O>(sorted: readonly Operation<I, O>[], cut: number): SearchOp<I, O>[] {
  const asOfCut = (s: SearchOp<I, O>) =>
    s.ret <= cut ? s : { ...s, output: undefined, ret: Infinity, required: false };
  return sorted.filter((op) => op.call <= cut).map((op) => asOfCut(toSearchOp(op)));
}

/** Returns the earliest call among `keep`: ops that returned before it are the kept ops' context. */
export function startOf<I, O>(window: readonly SearchOp<I, O>[], keep: readonly number[]): number {
  return keep.reduce((start, i) => Math.min(start, window[i]?.call ?? Infinity), Infinity);
}

/**
 * Returns `window` with the ops at `keep` and their context (ops that returned
 * before the first kept call) as recorded, and every other op optional with
 * unknown output. A relaxation: if it fails, `window` fails.
 */
export function inContext<I, O>(
  window: readonly SearchOp<I, O>[],
  keep: readonly number[],
): SearchOp<I, O>[] {
  const [kept, start] = [new Set(keep), startOf(window, keep)];
  const intact = window.map((op, i) => kept.has(i) || op.ret < start);
  const horizon = window.reduce(
    (h, op, i) => (intact[i] && op.required ? Math.max(h, op.ret) : h),
    -Infinity,
  );
  // An optional op called after every required op returned cannot matter: leave it out.
  const relax = (op: SearchOp<I, O>) =>
    op.call > horizon ? [] : [{ ...op, output: undefined, required: false }];
  return window.flatMap((op, i) => (intact[i] ? [op] : relax(op)));
}

/**
 * Checks that every operation has a numeric `call` and, when present, a
 * `return` that is not before it. Returns nothing; throws RangeError naming
 * the first offending index.
 */
export function validateHistory<I, O>(history: readonly Operation<I, O>[]): void {
  history.forEach((op, i) => {
    if (typeof op.call !== 'number' || Number.isNaN(op.call)) {
      throw new RangeError(`history[${i}].call (${String(op.call)}) must be a number`);
    }
    if (op.return === undefined) return;
    if (typeof op.return !== 'number' || Number.isNaN(op.return)) {
      throw new RangeError(`history[${i}].return (${String(op.return)}) must be a number or absent`);
    }
    if (op.return < op.call) {
      throw new RangeError(`history[${i}].return (${op.return}) is before its call (${op.call})`);
    }
  });
}

function assertTime(time: number, what: string): void {
  if (typeof time !== 'number' || Number.isNaN(time)) {
    throw new RangeError(`HistoryRecorder.${what}: time (${String(time)}) must be a number`);
  }
}
