import type { Operation } from './history';
import type { Model } from './model';

/** An operation on the key-value store of the default SimCluster state machine. */
export type KvInput =
  | { op: 'put'; key: string; value: string } // output: null
  | { op: 'get'; key: string } // output: string | null (null = absent)
  | { op: 'append'; key: string; value: string } // output: string (the new value)
  | { op: 'cas'; key: string; expected: string | null; value: string }; // output: boolean (true = swapped)

/** What a key-value operation returns: see `KvInput` for which op returns which. */
export type KvOutput = string | null | boolean;

/** The state of one key: its value, or null when absent. */
export type KvState = string | null;

type StepResult = { ok: boolean; state: KvState };

function stepCas(
  state: KvState,
  input: Extract<KvInput, { op: 'cas' }>,
  output: KvOutput | undefined,
): StepResult {
  const swaps = state === input.expected;
  if (output === undefined) return { ok: true, state: swaps ? input.value : state };
  if (output !== swaps) return { ok: false, state };
  return { ok: true, state: swaps ? input.value : state };
}

function stepKv(state: KvState, input: KvInput, output: KvOutput | undefined): StepResult {
  switch (input.op) {
    case 'put':
      return output === undefined || output === null
        ? { ok: true, state: input.value }
        : { ok: false, state };
    case 'get':
      return { ok: output === undefined || output === state, state };
    case 'append': {
      const next = (state ?? '') + input.value;
      return output === undefined || output === next ? { ok: true, state: next } : { ok: false, state };
    }
    case 'cas':
      return stepCas(state, input, output);
    default: {
      const unknown: never = input;
      throw new TypeError(`kvModel: unknown op ${JSON.stringify(unknown)}`);
    }
  }
}

/**
 * Whether `input` with `output` never changes the state where it is possible:
 * a get; a cas whose expected value is its new value; a cas that reports it
 * did not swap. A put, an append (even of "": it makes an absent key ""), or a
 * cas that swapped (or whose outcome is unknown) is a write, even where it
 * leaves the state as it is.
 */
function readOnlyKv(input: KvInput, output: KvOutput | undefined): boolean {
  switch (input.op) {
    case 'get':
      return true;
    case 'cas':
      return input.expected === input.value || output === false;
    case 'put':
    case 'append':
      return false;
  }
}

/** Injective and allocation-free for the usual value: null is "\0", a string is itself unless it starts with "\0". */
function hashKvState(state: KvState): string {
  if (state === null) return '\u0000';
  return state.startsWith('\u0000') ? `\u0000${state}` : state;
}

function partitionByKey(history: Operation<KvInput, KvOutput>[]): Operation<KvInput, KvOutput>[][] {
  const byKey = new Map<string, Operation<KvInput, KvOutput>[]>();
  for (const op of history) {
    const part = byKey.get(op.input.key);
    if (part) part.push(op);
    else byKey.set(op.input.key, [op]);
  }
  return [...byKey.values()];
}

function describeInput(input: KvInput): string {
  const key = JSON.stringify(input.key);
  switch (input.op) {
    case 'get':
      return `get(${key})`;
    case 'put':
    case 'append':
      return `${input.op}(${key}, ${JSON.stringify(input.value)})`;
    case 'cas':
      return `cas(${key}, ${JSON.stringify(input.expected)} -> ${JSON.stringify(input.value)})`;
  }
}

function describeKvOperation(op: Operation<KvInput, KvOutput>): string {
  const output =
    op.return === undefined ? 'pending' : op.output === undefined ? '?' : JSON.stringify(op.output);
  return `client ${op.clientId}: ${describeInput(op.input)} -> ${output} [${op.call}, ${op.return ?? '∞'}]`;
}

/**
 * The sequential specification of the key-value store. Its state is that of
 * one key, so it relies on `partition` (by key), which the checker always
 * applies. `step` throws TypeError for an input with an unknown `op`.
 */
export const kvModel: Model<KvState, KvInput, KvOutput> = {
  init: () => null,
  step: stepKv,
  readOnly: readOnlyKv,
  partition: partitionByKey,
  hashState: hashKvState,
  describeOperation: describeKvOperation,
};
