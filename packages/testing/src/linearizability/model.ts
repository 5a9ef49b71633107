import type { Operation } from './history';

/**
 * A sequential specification for the linearizability checker: the object as
 * it would behave with one client and no concurrency.
 *
 * `S` is the state, `I` an operation's input, `O` its output. States are
 * values: `step` must not mutate the state it is given, because the checker
 * backtracks to earlier states.
 */
export interface Model<S, I, O> {
  /** Returns the state before any operation. */
  init(): S;
  /**
   * Applies input to state; ok=false when `output` is impossible from `state`.
   * output undefined = unknown (accept any). Must not mutate `state`.
   * Returns the new state (ignored when ok is false). Should not throw.
   */
  step(state: S, input: I, output: O | undefined): { ok: boolean; state: S };
  /**
   * Optional: returns true only if the op is read-only given its recorded
   * output: in EVERY state where `step(state, input, output)` is ok, the state
   * it returns is equal to `state` (e.g. a get, or a cas that reports it did
   * not swap). Output undefined = unknown. The checker then linearizes such a
   * returned op as soon as it can, without trying the alternatives, which
   * keeps read-heavy histories fast. Leaving an op out (false, or no
   * `readOnly`) is always sound, only slower. Saying true of an op that
   * changes some state (a write that happens to leave the current state as it
   * is, like a put of the value the register holds) makes the checker reject
   * linearizable histories. Must not throw for an input `step` accepts.
   */
  readOnly?(input: I, output: O | undefined): boolean;
  /**
   * Optional P-compositionality: split a history into independent
   * sub-histories (e.g. by key). A history is linearizable iff every part is.
   * Returns the parts; every operation must land in exactly one.
   */
  partition?(history: Operation<I, O>[]): Operation<I, O>[][];
  /** Optional: returns a key for memoizing states (default JSON.stringify). Equal states must give equal keys. */
  hashState?(state: S): string;
  /** Optional: returns a one-line description of an operation for counterexample explanations. */
  describeOperation?(op: Operation<I, O>): string;
}

/** Returns `model.hashState(state)`, or JSON.stringify(state) when the model has no hashState. */
export function hashStateOf<S, I, O>(model: Model<S, I, O>, state: S): string {
  return model.hashState ? model.hashState(state) : String(JSON.stringify(state));
}

/** Returns `model.describeOperation(op)`, or a JSON rendering of the op when the model has none. */
export function describeOperationOf<S, I, O>(model: Model<S, I, O>, op: Operation<I, O>): string {
  if (model.describeOperation) return model.describeOperation(op);
  const output = op.return === undefined ? 'pending' : String(JSON.stringify(op.output));
  return `client ${op.clientId}: ${JSON.stringify(op.input)} -> ${output} [${op.call}, ${op.return ?? '∞'}]`;
}
