import fc from 'fast-check';
import { checkLinearizability, HistoryRecorder, kvModel } from '../src/index';
import type { CheckResult, KvInput, KvOutput, Model, Operation } from '../src/index';
import { applyKv } from './support/kv-reference';

type KvOp = Operation<KvInput, KvOutput>;

/** A completed op, or a pending one when `ret` is omitted. */
function op(clientId: number, input: KvInput, output: KvOutput, call: number, ret?: number): KvOp {
  return ret === undefined ? { clientId, input, call } : { clientId, input, output, call, return: ret };
}
const put = (key: string, value: string): KvInput => ({ op: 'put', key, value });
const get = (key: string): KvInput => ({ op: 'get', key });
const append = (key: string, value: string): KvInput => ({ op: 'append', key, value });
const cas = (key: string, expected: string | null, value: string): KvInput => ({
  op: 'cas',
  key,
  expected,
  value,
});

function check(history: KvOp[]): CheckResult<KvInput, KvOutput> {
  return checkLinearizability(history, kvModel);
}

function failure(result: CheckResult<KvInput, KvOutput>): { counterexample: KvOp[]; explanation: string } {
  if (result.ok !== false) throw new Error(`expected a rejection, got ${JSON.stringify(result)}`);
  return result;
}

function mulberry32(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface GenOptions {
  clients: number;
  ops: number;
  keys: number;
  /** Probability that an op never returns (half of those still take effect). */
  pendingRate?: number;
  /** Include appends (whose values never contain '!'). */
  appends?: boolean;
  /** Put and cas values from v0..v(n-1), so writes repeat values (default: a fresh value per op). */
  values?: number;
}

interface Planned {
  op: KvOp;
  point: number;
  takesEffect: boolean;
}

function randomInput(
  rand: () => number,
  key: string,
  i: number,
  written: Map<string, string[]>,
  o: GenOptions,
): KvInput {
  const r = rand();
  const value = (prefix: string): string =>
    o.values === undefined ? `${prefix}${i}` : `v${Math.floor(rand() * o.values)}`;
  if (r < 0.4) return get(key);
  if ((o.appends ?? true) && r < 0.55) return append(key, `a${i};`);
  if (r < 0.8) return put(key, value('v'));
  const seen = written.get(key) ?? [];
  const expected = rand() < 0.75 && seen.length > 0 ? (seen[Math.floor(rand() * seen.length)] ?? null) : null;
  return cas(key, expected, value('c'));
}

function planOps(rand: () => number, o: GenOptions): Planned[] {
  const clock = new Array<number>(o.clients).fill(0);
  const written = new Map<string, string[]>();
  const planned: Planned[] = [];
  for (let i = 0; i < o.ops; i++) {
    const clientId = i % o.clients;
    const key = `k${Math.floor(rand() * o.keys)}`;
    const input = randomInput(rand, key, i, written, o);
    if (input.op === 'put' || input.op === 'cas')
      written.set(key, [...(written.get(key) ?? []), input.value]);
    const call = (clock[clientId] ?? 0) + 1 + Math.floor(rand() * 5);
    const ret = call + 1 + Math.floor(rand() * 25);
    clock[clientId] = ret; // a client that timed out moves on: its op may still take effect
    const point = call + rand() * (ret - call);
    const pending = rand() < (o.pendingRate ?? 0);
    const op: KvOp = pending ? { clientId, input, call } : { clientId, input, call, return: ret };
    planned.push({ op, point, takesEffect: !pending || rand() < 0.5 });
  }
  return planned;
}

/**
 * A history of a real linearizable execution: each op takes effect at a
 * random point of its interval on a sequential store, in point order.
 */
function generateKvHistory(seed: number, o: GenOptions): KvOp[] {
  const planned = planOps(mulberry32(seed), o);
  const store = new Map<string, string | null>();
  for (const p of [...planned].sort((a, b) => a.point - b.point)) {
    if (!p.takesEffect) continue;
    const { output, after } = applyKv(store.get(p.op.input.key) ?? null, p.op.input);
    store.set(p.op.input.key, after);
    if (p.op.return !== undefined) p.op.output = output;
  }
  return planned.map((p) => p.op);
}

/** Replaces the output of a completed get (the one nearest `at`) with a value nothing ever writes. */
function corruptRead(history: KvOp[], at: number): KvOp {
  const candidates = history.filter((o) => o.input.op === 'get' && o.return !== undefined);
  const target = candidates[Math.min(candidates.length - 1, Math.floor(at * candidates.length))];
  if (target === undefined) throw new Error('no completed get to corrupt');
  target.output = '!never-written';
  return target;
}

/**
 * Reference semantics by exhaustive search over orders (small histories
 * only): every completed op placed, pending ops placed or left out, an op
 * placed only after every op that returned strictly before its call.
 */
function bruteForceLinearizable(history: KvOp[]): boolean {
  const placeable = (rest: KvOp[], next: KvOp): boolean =>
    rest.every((o) => o === next || o.return === undefined || o.return >= next.call);
  const search = (state: string | null, rest: KvOp[]): boolean => {
    if (rest.every((o) => o.return === undefined)) return true;
    return rest.some((next) => {
      if (!placeable(rest, next)) return false;
      const step = kvModel.step(state, next.input, next.return === undefined ? undefined : next.output);
      return (
        step.ok &&
        search(
          step.state,
          rest.filter((o) => o !== next),
        )
      );
    });
  };
  return search(null, history);
}

/** Replaces one op's output by another plausible one (often, but not always, breaking linearizability). */
function mutateOutput(history: KvOp[], which: number, pick: number): void {
  const target = history[which % history.length];
  if (target === undefined || target.return === undefined) return;
  const values = [null, true, false, ...history.flatMap((o) => ('value' in o.input ? [o.input.value] : []))];
  target.output = values[pick % values.length] ?? null;
}

describe('linearizability - kv model accepts', () => {
  it('accepts a sequential history of every op kind', () => {
    const history = [
      op(1, get('a'), null, 0, 1),
      op(1, put('a', 'x'), null, 2, 3),
      op(2, get('a'), 'x', 4, 5),
      op(1, append('a', 'y'), 'xy', 6, 7),
      op(2, cas('a', 'xy', 'z'), true, 8, 9),
      op(1, cas('a', 'xy', 'w'), false, 10, 11),
      op(2, append('b', 'q'), 'q', 12, 13),
      op(1, get('a'), 'z', 14, 15),
    ];
    expect(check(history)).toEqual({ ok: true, checkedOps: 8 });
  });

  it('accepts overlapping writes observed in either order', () => {
    const writes = [op(1, put('a', 'x'), null, 0, 10), op(2, put('a', 'y'), null, 2, 8)];
    expect(check([...writes, op(3, get('a'), 'x', 11, 12)]).ok).toBe(true);
    expect(check([...writes, op(3, get('a'), 'y', 11, 12)]).ok).toBe(true);
  });

  it('accepts a read overlapping a write that sees the old or the new value', () => {
    const before = [op(1, put('a', 'x'), null, 0, 1), op(2, put('a', 'y'), null, 2, 10)];
    expect(check([...before, op(3, get('a'), 'x', 3, 5), op(3, get('a'), 'y', 6, 9)]).ok).toBe(true);
    expect(check([...before, op(3, get('a'), 'y', 3, 5)]).ok).toBe(true);
  });

  it('accepts pending ops that took effect and pending ops that did not', () => {
    const tookEffect = [
      op(1, put('a', 'x'), null, 0, 1),
      op(2, put('a', 'y'), null, 2),
      op(3, get('a'), 'y', 5, 6),
    ];
    const didNot = [
      op(1, put('a', 'x'), null, 0, 1),
      op(2, put('a', 'y'), null, 2),
      op(3, get('a'), 'x', 5, 6),
    ];
    const late = [
      op(1, append('a', 'x'), 'x', 0, 1),
      op(2, append('a', 'y'), null, 2),
      op(3, get('a'), 'x', 5, 6),
    ];
    expect(check(tookEffect).ok).toBe(true);
    expect(check(didNot).ok).toBe(true);
    expect(check([...late, op(3, get('a'), 'xy', 7, 8)]).ok).toBe(true);
  });

  it('treats an op called at the instant another returns as concurrent with it', () => {
    const touching = [op(1, put('a', 'x'), null, 0, 5), op(2, get('a'), null, 5, 6)];
    expect(check(touching).ok).toBe(true);
    failure(check([op(1, put('a', 'x'), null, 0, 5), op(2, get('a'), null, 5.5, 6)]));
  });

  it('accepts an empty history', () => {
    expect(check([])).toEqual({ ok: true, checkedOps: 0 });
  });

  it('accepts a generated 10-client × 2,000-op history with pending ops', () => {
    const history = generateKvHistory(42, { clients: 10, ops: 2000, keys: 4, pendingRate: 0.02 });
    expect(check(history)).toEqual({ ok: true, checkedOps: 2000 });
  });

  it('accepts a generated 10-client × 2,000-op history on a single key', () => {
    const history = generateKvHistory(7, { clients: 10, ops: 2000, keys: 1, appends: false });
    expect(check(history)).toEqual({ ok: true, checkedOps: 2000 });
  });

  it('accepts a generated 10-client × 2,000-op single-key history whose writes repeat 3 values', () => {
    // A write of the value the key already holds is not free to go first: it may be needed later.
    const history = generateKvHistory(7, { clients: 10, ops: 2000, keys: 1, appends: false, values: 3 });
    expect(check(history)).toEqual({ ok: true, checkedOps: 2000 });
  });
});

describe('linearizability - kv model rejects', () => {
  it('rejects a stale read after a completed write, naming the state it missed', () => {
    const stale = op(2, get('a'), 'x', 4, 5);
    const history = [
      op(1, put('a', 'x'), null, 0, 1),
      op(1, put('a', 'y'), null, 2, 3),
      stale,
      op(3, put('b', 'z'), null, 0, 9),
    ];
    const { counterexample, explanation } = failure(check(history));
    expect(counterexample).toEqual([stale]);
    expect(explanation).toContain('partition 1 of 2 (3 ops)');
    expect(explanation).toContain('No linearization survives the return of client 2: get("a") -> "x" [4, 5]');
    expect(explanation).toContain('impossible in the state(s) it could have found: "y"');
  });

  it('rejects two reads observing two writes in contradictory orders', () => {
    const history = [
      op(1, put('a', 'x'), null, 0, 100),
      op(2, put('a', 'y'), null, 0, 100),
      op(3, get('a'), 'x', 10, 20),
      op(3, get('a'), 'y', 30, 40),
      op(4, get('a'), 'y', 10, 20),
      op(4, get('a'), 'x', 30, 40),
    ];
    failure(check(history));
  });

  it('rejects a cas succeeding twice on the same expected value', () => {
    const history = [
      op(1, put('a', 'x'), null, 0, 1),
      op(2, cas('a', 'x', 'y'), true, 2, 10),
      op(3, cas('a', 'x', 'z'), true, 3, 9),
    ];
    const { counterexample } = failure(check(history));
    expect(counterexample.map((o) => o.input.op)).toEqual(['cas', 'cas']);
  });

  it('rejects a read of a value never written', () => {
    const ghost = op(2, get('a'), 'ghost', 2, 3);
    expect(failure(check([op(1, put('a', 'x'), null, 0, 1), ghost])).counterexample).toEqual([ghost]);
  });

  it('rejects append results inconsistent with their order', () => {
    const sequential = [
      op(1, append('a', 'x'), 'x', 0, 1),
      op(2, append('a', 'y'), 'xy', 2, 3),
      op(1, append('a', 'z'), 'xz', 4, 5),
    ];
    const concurrent = [op(1, append('a', 'x'), 'x', 0, 10), op(2, append('a', 'y'), 'y', 0, 10)];
    failure(check(sequential));
    failure(check(concurrent));
  });

  it('rejects a pending write observed and then un-observed', () => {
    const history = [
      op(1, put('a', 'x'), null, 0, 1),
      op(2, put('a', 'y'), null, 2),
      op(3, get('a'), 'y', 3, 4),
      op(3, get('a'), 'x', 5, 6),
    ];
    failure(check(history));
  });

  it('rejects a generated history with one corrupted read, with a small counterexample containing it', () => {
    const history = generateKvHistory(1234, { clients: 10, ops: 2000, keys: 4, pendingRate: 0.02 });
    const corrupted = corruptRead(history, 0.6);
    const { counterexample, explanation } = failure(check(history));
    expect(counterexample).toContain(corrupted);
    expect(counterexample.length).toBeLessThanOrEqual(10);
    expect(explanation).toContain('!never-written');
  });

  it('rejects a generated register history with a stale read, naming the state it missed', () => {
    const history = generateKvHistory(99, { clients: 10, ops: 500, keys: 1, appends: false });
    const last = Math.max(...history.map((o) => o.return ?? o.call));
    const first = history.find((o) => o.input.op === 'put' && o.return !== undefined);
    if (first === undefined || first.input.op !== 'put') throw new Error('no put');
    const newer = op(98, put('k0', 'newest'), null, last + 1, last + 2);
    const stale = op(99, get('k0'), first.input.value, last + 3, last + 4);
    const { counterexample, explanation } = failure(check([...history, newer, stale]));
    expect(counterexample).toEqual([stale]);
    expect(explanation).toContain('"newest"');
  });
});

describe('linearizability - checker', () => {
  it('returns unknown when the time budget runs out', () => {
    // 40 concurrent pending appends and an impossible read: 2^40 subsets to rule out.
    const history = Array.from({ length: 40 }, (_, i) => op(i, append('a', `${i},`), null, 0));
    history.push(op(99, get('a'), 'impossible', 1, 2));
    const result = checkLinearizability(history, kvModel, { timeoutMs: 50 });
    expect(result.ok).toBe('unknown');
    expect(result.ok === 'unknown' && result.reason).toContain('50 ms');
  });

  it('throws RangeError for an op that returns before its call', () => {
    expect(() => check([op(1, get('a'), null, 5, 4)])).toThrow(RangeError);
  });

  it('checks a model without partition, with the default state hash', () => {
    type Counter = { value: number };
    const counter: Model<Counter, 'inc', number> = {
      init: () => ({ value: 0 }),
      step: (s, _input, output) => ({
        ok: output === undefined || output === s.value + 1,
        state: { value: s.value + 1 },
      }),
    };
    const inc = (clientId: number, output: number, call: number, ret: number): Operation<'inc', number> => ({
      clientId,
      input: 'inc',
      output,
      call,
      return: ret,
    });
    expect(checkLinearizability([inc(1, 2, 0, 10), inc(2, 1, 1, 9)], counter).ok).toBe(true);
    const result = checkLinearizability([inc(1, 1, 0, 1), inc(2, 1, 2, 3)], counter);
    expect(result.ok === false && result.explanation).toContain('partition 1 of 1');
  });
});

describe('linearizability - HistoryRecorder', () => {
  it('records completed and pending ops that the checker accepts', () => {
    const recorder = new HistoryRecorder<KvInput, KvOutput>();
    const w = recorder.invoke('c1', put('a', 'x'), 0);
    const r = recorder.invoke('c2', get('a'), 1);
    recorder.invoke('c3', put('a', 'lost'), 2);
    recorder.complete(w, null, 3);
    recorder.complete(r, 'x', 4);
    const history = recorder.history();
    expect(history[2]).toEqual({ clientId: 'c3', input: put('a', 'lost'), call: 2 });
    expect(check(history).ok).toBe(true);
  });

  it('throws RangeError for unknown handles, double completion and time travel', () => {
    const recorder = new HistoryRecorder<KvInput, KvOutput>();
    const h = recorder.invoke(1, get('a'), 5);
    expect(() => recorder.complete(h + 1, null, 6)).toThrow(RangeError);
    expect(() => recorder.complete(h, null, 4)).toThrow(RangeError);
    recorder.complete(h, null, 6);
    expect(() => recorder.complete(h, null, 7)).toThrow(RangeError);
  });
});

describe('linearizability - properties', () => {
  const params = fc.record({
    seed: fc.integer(),
    clients: fc.integer({ min: 1, max: 6 }),
    ops: fc.integer({ min: 1, max: 80 }),
    keys: fc.integer({ min: 1, max: 3 }),
    pendingRate: fc.constantFrom(0, 0.1, 0.3),
    values: fc.constantFrom(undefined, 2, 3),
  });
  // Refuting a history tries every subset of its pending (optional) operations
  // (WGL is exponential in them): the rejection properties draw histories with
  // fresh values and few pending operations, so each proof fits the checker's budget.
  const refutable = params.map((p) => ({
    ...p,
    values: undefined,
    pendingRate: Math.min(p.pendingRate, 0.1),
  }));

  it('accepts every history of a linearizable execution', () => {
    fc.assert(
      fc.property(params, (p) => {
        expect(check(generateKvHistory(p.seed, p)).ok).toBe(true);
      }),
    );
  });

  it('rejects a never-written read strictly after a completed put, and reports it', () => {
    fc.assert(
      fc.property(refutable, fc.double({ min: 0, max: 1, noNaN: true }), (p, at) => {
        const history = generateKvHistory(p.seed, p);
        const puts = history.filter((o) => o.input.op === 'put' && o.return !== undefined);
        const anchor = puts[Math.min(puts.length - 1, Math.floor(at * puts.length))];
        const key = anchor?.input.key ?? 'k0';
        const after = (anchor?.return ?? 0) + 1 + at * 10;
        const bad = op(99, get(key), '!never-written', after, after + 1);
        const { counterexample } = failure(check([...history, bad]));
        expect(counterexample).toEqual([bad]);
      }),
    );
  });

  it('agrees with a brute-force search on small histories, mutated or not', () => {
    const small = fc.record({
      seed: fc.integer(),
      clients: fc.integer({ min: 1, max: 4 }),
      ops: fc.integer({ min: 1, max: 7 }),
      keys: fc.constant(1),
      pendingRate: fc.constantFrom(0, 0.2, 0.5),
      mutate: fc.option(fc.tuple(fc.nat(), fc.nat())),
    });
    fc.assert(
      fc.property(small, (p) => {
        const history = generateKvHistory(p.seed, p);
        if (p.mutate) mutateOutput(history, ...p.mutate);
        const result = check(history);
        expect(result.ok).toBe(bruteForceLinearizable(history));
        if (result.ok === false) expect(bruteForceLinearizable(result.counterexample)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('rejects a history with one corrupted read, and the counterexample holds it', () => {
    fc.assert(
      fc.property(refutable, fc.double({ min: 0, max: 1, noNaN: true }), (p, at) => {
        const history = generateKvHistory(p.seed, { ...p, ops: p.ops + 1 });
        if (!history.some((o) => o.input.op === 'get' && o.return !== undefined)) return;
        const corrupted = corruptRead(history, at);
        const { counterexample } = failure(check(history));
        expect(counterexample).toContain(corrupted);
        expect(counterexample.length).toBeLessThanOrEqual(10);
      }),
    );
  });
});
