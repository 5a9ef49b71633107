import fc from 'fast-check';
import { pack } from '../../src/codec';
import { DecodeError } from '../../src/errors';
import type { ApplyResult } from '../../src/node/applier';
import type { CommandEnvelope } from '../../src/node/command';
import { Command, Query, StateMachine } from '../../src/state-machine/decorators';
import { MachineHost, type MachineHostOptions } from '../../src/state-machine/host';
import { ReplicatedStateMachine } from '../../src/state-machine/machine';
import { KvMachine, at, cmd } from './kv-machine';

/** Results in a comparable form (jest compares errors by message only). */
const view = (r: ApplyResult): unknown => (r.ok ? ['ok', r.value] : ['error', r.error.name, r.error.message]);

function applyAll(host: MachineHost, log: readonly CommandEnvelope[], firstIndex = 1): unknown[] {
  return log.map((e, i) => view(host.apply(e, at(firstIndex + i))));
}

function populated(): MachineHost {
  const host = new MachineHost(new KvMachine(), { sessionTtlMs: 1000 });
  applyAll(host, [
    cmd('put', ['a', '1'], { time: 10, clientId: 'c1', seq: 1 }),
    cmd('put', ['b', '2'], { time: 20, clientId: 'c1', seq: 2 }),
    cmd('tag', ['red'], { time: 30, clientId: 'c2', seq: 1 }),
    cmd('incr', [7], { time: 40 }),
    cmd('fail', ['nope'], { time: 50, clientId: 'c2', seq: 2 }),
  ]);
  return host;
}

describe('state machine - snapshot and restore', () => {
  it('a fresh host restored from a snapshot holds identical state (Maps, Sets and objects intact)', () => {
    const source = populated();
    const target = new MachineHost(new KvMachine(), { sessionTtlMs: 1000 });
    target.restore(source.snapshot());
    const machine = target.machine as KvMachine;
    expect(machine.entries).toEqual(
      new Map([
        ['a', '1'],
        ['b', '2'],
      ]),
    );
    expect(machine.entries).toBeInstanceOf(Map);
    expect(machine.tags).toEqual(new Set(['red']));
    expect(machine.tags).toBeInstanceOf(Set);
    expect(machine.stats).toEqual({ writes: 2, lastWriteAt: 20 });
    expect(Object.getPrototypeOf(machine.stats)).toBe(Object.prototype);
    expect(machine.counter).toBe(7);
    expect([target.appliedIndex, target.time, target.sessionCount]).toEqual([5, 50, 2]);
    expect(target.snapshot()).toEqual(source.snapshot());
  });

  it('a restored host answers later commands, retries and expiry exactly as the original', () => {
    const source = populated();
    const target = new MachineHost(new KvMachine(), { sessionTtlMs: 1000 });
    target.restore(source.snapshot());
    const later = [
      cmd('put', ['a', 'x'], { time: 60, clientId: 'c1', seq: 1 }), // retry: first result
      cmd('fail', ['nope'], { time: 60, clientId: 'c2', seq: 2 }), // retry of a failure
      cmd('put', ['a', 'y'], { time: 70, clientId: 'c1', seq: 3, ackedBelow: 3 }),
      cmd('put', ['a', 'z'], { time: 80, clientId: 'c1', seq: 2 }), // acknowledged: expired
      cmd('stamp', [], { time: 65 }),
      cmd('incr', [1], { time: 1061, clientId: 'c1', seq: 4 }), // c2 idle > 1000 ms: dropped
      cmd('tag', ['red'], { time: 1061, clientId: 'c2', seq: 2 }),
    ];
    const expected = applyAll(source, later, 6);
    expect(applyAll(target, later, 6)).toEqual(expected);
    expect(expected.slice(0, 5)).toEqual([
      ['ok', undefined],
      ['error', 'CommandFailedError', 'command fail failed while applying: nope'],
      ['ok', '1'],
      ['error', 'SessionExpiredError', 'client session c1 is unknown or expired; start a new session'],
      ['ok', { index: 10, term: 1, time: 80 }],
    ]);
    expect(expected[6]).toEqual(['error', 'SessionExpiredError', expect.stringContaining('c2')]);
    expect(target.snapshot()).toEqual(source.snapshot());
  });

  it('restore replaces everything a diverged host had, fields and sessions included', () => {
    const source = populated();
    const target = new MachineHost(new KvMachine(), { sessionTtlMs: 1000 });
    applyAll(target, [cmd('put', ['zzz', '!'], { time: 5000, clientId: 'other', seq: 1 })]);
    Object.assign(target.machine, { extra: 1 });
    target.restore(source.snapshot());
    expect(Object.keys(target.machine)).toEqual(['entries', 'tags', 'counter', 'stats']);
    expect(target.query('get', ['zzz'])).toBeUndefined();
    expect(target.snapshot()).toEqual(source.snapshot());
  });

  it('restore rejects a snapshot of another machine or garbage with DecodeError, changing nothing', () => {
    @StateMachine('other')
    class Other extends ReplicatedStateMachine {
      @Command() go(): void {}
    }
    const host = populated();
    const before = host.snapshot();
    expect(() => host.restore(new MachineHost(new Other()).snapshot())).toThrow(
      new DecodeError('snapshot is of state machine "other", this host runs "kv"'),
    );
    expect(() => host.restore(Uint8Array.of(0xc1))).toThrow(DecodeError);
    expect(() => host.restore(pack([1, 'kv', 5, 50, [1], 'not rows']))).toThrow(DecodeError);
    expect(() => host.restore(pack([9, 'kv']))).toThrow('unsupported snapshot version 9');
    expect(host.snapshot()).toEqual(before);
  });

  it('keeps plain data exactly: nested objects vs Maps, Dates, bytes, bigint, undefined, "__proto__" keys', () => {
    @StateMachine('rich')
    class Rich extends ReplicatedStateMachine {
      value: unknown = null;
      @Command() set(v: unknown): void {
        this.value = v;
      }
    }
    const value = {
      map: new Map<unknown, unknown>([
        [1, { a: [new Set([2, 'x'])] }],
        [{ k: 1 }, new Map([['o', {}]])],
      ]),
      object: JSON.parse('{"__proto__": {"polluted": true}, "list": [1, [2, []]]}') as unknown,
      when: new Date(1234),
      bytes: Uint8Array.of(1, 2, 3),
      big: 2n ** 70n,
      missing: undefined,
      emptyMap: new Map(),
      emptyObject: {},
    };
    const source = new MachineHost(new Rich());
    source.apply(cmd('set', [value]), at(1));
    const target = new MachineHost(new Rich());
    target.restore(source.snapshot());
    const restored = (target.machine as Rich).value as typeof value;
    expect(restored).toEqual(value);
    expect(restored.emptyMap).toBeInstanceOf(Map);
    expect(restored.emptyObject).not.toBeInstanceOf(Map);
    expect(Object.keys(restored.object as object)).toEqual(['__proto__', 'list']);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });

  it('snapshot() names the field that is not plain data', () => {
    class Point {
      x = 1;
    }
    @StateMachine('bad')
    class Bad extends ReplicatedStateMachine {
      items = new Map([['p', [new Point()]]]);
      @Command() go(): void {}
    }
    expect(() => new MachineHost(new Bad()).snapshot()).toThrow(
      'Bad.snapshotState().items.get(p)[0] holds an instance of Point, which is not plain data',
    );
    const cyclic = new Bad();
    const loop: Record<string, unknown> = { list: [] };
    loop.self = loop;
    Object.assign(cyclic, { items: new Map(), loop });
    expect(() => new MachineHost(cyclic).snapshot()).toThrow(
      'Bad.snapshotState().loop.self refers back to one of its parents; plain data cannot hold a cycle',
    );
    // Sharing is not a cycle: a shared value is copied.
    Object.assign(cyclic, { loop: { a: loop.list, b: loop.list } });
    expect(() => new MachineHost(cyclic).snapshot()).not.toThrow();
  });

  it('a machine may override snapshotState()/restoreState()', () => {
    @StateMachine('custom')
    class Custom extends ReplicatedStateMachine {
      private readonly counts = new Map<string, number>();
      @Command() hit(key: string): number {
        const n = (this.counts.get(key) ?? 0) + 1;
        this.counts.set(key, n);
        return n;
      }
      @Query() total(): number {
        return [...this.counts.values()].reduce((a, b) => a + b, 0);
      }
      override snapshotState(): unknown {
        return [...this.counts];
      }
      override restoreState(state: unknown): void {
        this.counts.clear();
        for (const [k, v] of state as [string, number][]) this.counts.set(k, v);
      }
    }
    const source = new MachineHost(new Custom());
    applyAll(source, [cmd('hit', ['a']), cmd('hit', ['a']), cmd('hit', ['b'])]);
    const target = new MachineHost(new Custom());
    target.restore(source.snapshot());
    expect(target.query('total', [])).toBe(3);
    expect(target.apply(cmd('hit', ['a']), at(4))).toEqual({ ok: true, value: 3 });
  });

  it('the default restoreState() refuses a state that is not an object of fields', () => {
    expect(() => new KvMachine().restoreState([1, 2])).toThrow(DecodeError);
  });
});

describe('state machine - determinism (property)', () => {
  const clients = ['c1', 'c2', 'c3', 'c4'];
  const envelope = fc.record({
    name: fc.constantFrom('put', 'del', 'incr', 'tag', 'fail', 'putThenFail', 'stamp', 'unknown'),
    key: fc.constantFrom('a', 'b', 'c'),
    n: fc.integer({ min: -3, max: 3 }),
    dt: fc.integer({ min: -20, max: 40 }),
    client: fc.option(fc.constantFrom(...clients), { nil: undefined }),
    seq: fc.integer({ min: 1, max: 6 }),
    acked: fc.integer({ min: 0, max: 6 }),
    retryOf: fc.option(fc.nat(), { nil: undefined }),
  });

  type Step = typeof envelope extends fc.Arbitrary<infer T> ? T : never;

  /** A log of envelopes; retryOf repeats an earlier envelope verbatim (a client retry). */
  function toLog(steps: readonly Step[]): CommandEnvelope[] {
    const log: CommandEnvelope[] = [];
    let time = 1000;
    for (const s of steps) {
      time += s.dt;
      const earlier = s.retryOf === undefined || log.length === 0 ? undefined : log[s.retryOf % log.length];
      if (earlier) {
        log.push({ ...earlier, time });
        continue;
      }
      const args = s.name === 'incr' ? [s.n] : s.name === 'put' ? [s.key, String(s.n)] : [s.key];
      const session = s.client && { clientId: s.client, seq: s.seq, ackedBelow: Math.min(s.acked, s.seq) };
      log.push(session ? { name: s.name, args, time, session } : { name: s.name, args, time });
    }
    return log;
  }

  const options: MachineHostOptions = { sessionTtlMs: 60, maxSessions: 3 };

  it('two hosts applying the same log (duplicates and retries included) end byte-identical', () => {
    fc.assert(
      fc.property(fc.array(envelope, { maxLength: 80 }), fc.nat(), (steps, cut) => {
        const log = toLog(steps);
        const a = new MachineHost(new KvMachine(), options);
        const b = new MachineHost(new KvMachine(), options);
        expect(applyAll(b, log)).toEqual(applyAll(a, log));
        expect(Buffer.from(b.snapshot()).equals(Buffer.from(a.snapshot()))).toBe(true);

        // A host restored mid-log and fed the rest ends where the others did.
        const at = log.length === 0 ? 0 : cut % (log.length + 1);
        const c = new MachineHost(new KvMachine(), options);
        const d = new MachineHost(new KvMachine(), options);
        applyAll(c, log.slice(0, at));
        d.restore(c.snapshot());
        expect(applyAll(d, log.slice(at), at + 1)).toEqual(applyAll(c, log.slice(at), at + 1));
        expect(Buffer.from(d.snapshot()).equals(Buffer.from(a.snapshot()))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
