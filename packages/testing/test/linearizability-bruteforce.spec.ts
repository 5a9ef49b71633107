/**
 * The checker against the definition: on small random histories (up to 6 ops
 * and a final read, on 1 or 2 keys) over a tiny alphabet, so that values
 * repeat and cas x→x and writes of the value a key holds are common, with
 * pending ops and returned ops of unknown output, its verdict must equal that
 * of an exhaustive search over every total order that respects real time.
 */
import fc from 'fast-check';
import { checkLinearizability, kvModel } from '../src/index';
import type { KvInput, KvOutput, Operation } from '../src/index';
import { applyKv } from './support/kv-reference';

type KvOp = Operation<KvInput, KvOutput>;

const VALUES = ['a', 'b'] as const;

type Store = Readonly<Record<string, string | null>>;

/**
 * The definition, by exhaustive search (no memo, no partition): some order of
 * the completed ops and of any subset of the pending ones, where an op comes
 * after every op that returned strictly before its call, gives every
 * completed op with a known output that output.
 */
function bruteForceLinearizable(history: readonly KvOp[]): boolean {
  const search = (store: Store, rest: readonly KvOp[]): boolean => {
    if (rest.every((o) => o.return === undefined)) return true;
    return rest.some((next) => {
      if (rest.some((o) => o !== next && o.return !== undefined && o.return < next.call)) return false;
      const { output, after } = applyKv(store[next.input.key] ?? null, next.input);
      const known = next.return !== undefined && next.output !== undefined;
      if (known && output !== next.output) return false;
      const others = rest.filter((o) => o !== next);
      return search({ ...store, [next.input.key]: after }, others);
    });
  };
  return search({}, history);
}

/** An input on one of `keys`: mostly writes, over values that repeat. */
function arbInput(keys: readonly string[]): fc.Arbitrary<KvInput> {
  const key = fc.constantFrom(...keys);
  const value = fc.constantFrom(...VALUES);
  return fc.oneof(
    { weight: 1, arbitrary: fc.record({ op: fc.constant('get' as const), key }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant('put' as const), key, value }) },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('cas' as const),
        key,
        expected: fc.constantFrom(null, ...VALUES),
        value,
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('append' as const),
        key,
        value: fc.constantFrom('', ...VALUES),
      }),
    },
  );
}

/** One planned op: its interval on a small grid (so equal times are common), and how it ends. */
interface Planned {
  input: KvInput;
  call: number;
  length: number;
  /** Where in its interval (or after its call, when pending) it takes effect, as a fraction. */
  at: number;
  ending: 'returned' | 'pending' | 'unknown-output';
  /** Whether a pending op takes effect at all. */
  takesEffect: boolean;
}

function arbPlanned(keys: readonly string[]): fc.Arbitrary<Planned> {
  return fc.record({
    input: arbInput(keys),
    call: fc.integer({ min: 0, max: 6 }),
    length: fc.integer({ min: 0, max: 10 }),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    ending: fc.constantFrom<Planned['ending'][]>(
      'returned',
      'returned',
      'returned',
      'returned',
      'pending',
      'unknown-output',
    ),
    takesEffect: fc.boolean(),
  });
}

/** A wrong but plausible output for `input`, from the same tiny alphabet. */
function arbOtherOutput(input: KvInput): fc.Arbitrary<KvOutput> {
  switch (input.op) {
    case 'get':
      return fc.constantFrom(null, ...VALUES);
    case 'cas':
      return fc.boolean();
    case 'append':
      return fc.constantFrom('a', 'b', 'aa', 'ab', 'ba', 'bb');
    case 'put':
      return fc.constant(null);
  }
}

/** Where planned op `p` takes effect: in its interval, or within 10 after its call when pending. */
function pointOf(p: Planned): number {
  return p.call + p.at * (p.ending === 'pending' ? 10 : p.length);
}

/**
 * A history of a real execution of the planned ops: each takes effect at its
 * point, in point order (a pending one only if `takesEffect`); then a get of
 * the first op's key after every point and return, which pins down which
 * write came last (a write the search wrongly skips shows up there).
 */
function execute(planned: readonly Planned[]): KvOp[] {
  const runs = planned.map((p, clientId) => {
    const op: KvOp = { clientId, input: p.input, call: p.call };
    return { p, op };
  });
  const store = new Map<string, string | null>();
  for (const { p, op } of [...runs].sort((a, b) => pointOf(a.p) - pointOf(b.p))) {
    if (p.ending !== 'pending') op.return = p.call + p.length;
    if (p.ending === 'pending' && !p.takesEffect) continue;
    const { output, after } = applyKv(store.get(op.input.key) ?? null, op.input);
    store.set(op.input.key, after);
    if (p.ending === 'returned') op.output = output;
  }
  const ops = runs.map((r) => r.op);
  const first = planned[0];
  if (first === undefined) return ops;
  const last = Math.ceil(Math.max(...planned.map((p) => Math.max(pointOf(p), p.call + p.length))));
  const key = first.input.key;
  const read = { clientId: ops.length, input: { op: 'get', key } as const, call: last + 1, return: last + 2 };
  return [...ops, { ...read, output: store.get(key) ?? null }];
}

/** `history` with the output of one returned op replaced by a plausible other (not always a wrong one). */
function arbMutated(history: KvOp[]): fc.Arbitrary<KvOp[]> {
  return fc.integer({ min: 0, max: history.length - 1 }).chain((i) => {
    const target = history[i];
    if (target === undefined || target.return === undefined) return fc.constant(history);
    return arbOtherOutput(target.input).map((output) =>
      history.map((o, j) => (j === i ? { ...o, output } : o)),
    );
  });
}

/** A small history of a real execution, then two times in three with one output replaced. */
const arbHistory: fc.Arbitrary<KvOp[]> = fc
  .oneof({ weight: 2, arbitrary: fc.constant(['x']) }, { weight: 1, arbitrary: fc.constant(['x', 'y']) })
  .chain((keys) => fc.array(arbPlanned(keys), { minLength: 1, maxLength: 6 }))
  .map(execute)
  .chain((history) =>
    fc.oneof({ weight: 1, arbitrary: fc.constant(history) }, { weight: 2, arbitrary: arbMutated(history) }),
  );

const completed = (clientId: number, input: KvInput, output: KvOutput, call: number, ret: number): KvOp => ({
  clientId,
  input,
  output,
  call,
  return: ret,
});
const put = (value: string): KvInput => ({ op: 'put', key: 'x', value });
const get: KvInput = { op: 'get', key: 'x' };
const cas = (expected: string | null, value: string): KvInput => ({ op: 'cas', key: 'x', expected, value });

describe('linearizability - brute force agreement', () => {
  it('accepts a write of the value the register holds that a later read needs (put b, put a, put b, get b)', () => {
    const history = [
      completed(1, put('b'), null, 0, 1),
      completed(2, put('b'), null, 2, 10),
      completed(3, put('a'), null, 3, 4),
      completed(4, get, 'b', 11, 12),
    ];
    expect(bruteForceLinearizable(history)).toBe(true);
    expect(checkLinearizability(history, kvModel)).toEqual({ ok: true, checkedOps: 4 });
  });

  it('accepts a returned cas of unknown outcome that is a no-op where first tried but swaps later', () => {
    // Only put b, put a, cas a->b, get b fits; at "b" the cas is a no-op, so it looks free to go first.
    const history: KvOp[] = [
      completed(1, put('b'), null, 0, 1),
      { clientId: 2, input: cas('a', 'b'), call: 2, return: 10 },
      completed(3, put('a'), null, 3, 4),
      completed(4, get, 'b', 11, 12),
    ];
    expect(bruteForceLinearizable(history)).toBe(true);
    expect(checkLinearizability(history, kvModel).ok).toBe(true);
  });

  it('still rejects a history whose repeated write cannot fit (put b, put a, get b, all sequential)', () => {
    const history = [
      completed(1, put('b'), null, 0, 1),
      completed(2, put('b'), null, 2, 3),
      completed(3, put('a'), null, 4, 5),
      completed(4, get, 'b', 6, 7),
    ];
    expect(bruteForceLinearizable(history)).toBe(false);
    expect(checkLinearizability(history, kvModel).ok).toBe(false);
  });

  it('agrees with exhaustive search on 4,000 small histories with repeated values, cas x→x and pending ops', () => {
    const verdicts = { linearizable: 0, not: 0 };
    fc.assert(
      fc.property(arbHistory, (history) => {
        const expected = bruteForceLinearizable(history);
        const result = checkLinearizability(history, kvModel);
        expect(result.ok).toBe(expected);
        if (result.ok === false) expect(bruteForceLinearizable(result.counterexample)).toBe(false);
        verdicts[expected ? 'linearizable' : 'not']++;
      }),
      { numRuns: 4000 },
    );
    // Both verdicts are common, so a checker that always answers one way fails.
    expect(verdicts.linearizable).toBeGreaterThan(2000);
    expect(verdicts.not).toBeGreaterThan(500);
  });
});
