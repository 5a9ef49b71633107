import { CommandFailedError, SessionExpiredError } from '../../src/errors';
import type { ApplyResult } from '../../src/node/applier';
import type { CommandEnvelope } from '../../src/node/command';
import { Command, StateMachine } from '../../src/state-machine/decorators';
import { MachineHost, type MachineHostOptions } from '../../src/state-machine/host';
import { ReplicatedStateMachine } from '../../src/state-machine/machine';
import { KvMachine, at, cmd } from './kv-machine';

/** A host plus a log index that advances with every apply. */
function harness(options: MachineHostOptions = {}) {
  const machine = new KvMachine();
  const host = new MachineHost(machine, options);
  let index = 0;
  const apply = (envelope: CommandEnvelope): ApplyResult => host.apply(envelope, at(++index));
  return { machine, host, apply };
}

const incr = (
  clientId: string,
  seq: number,
  opts: { time?: number; ackedBelow?: number; by?: number } = {},
) => cmd('incr', [opts.by ?? 1], { clientId, seq, ...opts });

const expired = (clientId: string): ApplyResult => ({ ok: false, error: new SessionExpiredError(clientId) });

describe('state machine - exactly-once sessions (thesis §6.3)', () => {
  it('a retried (clientId, seq) applies once and returns the first result, naming the index it was applied at', () => {
    const { machine, apply } = harness();
    expect(apply(incr('c1', 1, { by: 5 }))).toEqual({ ok: true, value: 5 });
    expect(apply(incr('c2', 1, { by: 1 }))).toEqual({ ok: true, value: 6 });
    expect(apply(incr('c1', 1, { by: 5 }))).toEqual({ ok: true, value: 5, duplicateOf: 1 });
    expect(apply(incr('c1', 1, { by: 5 }))).toEqual({ ok: true, value: 5, duplicateOf: 1 });
    expect(machine.counter).toBe(6);
  });

  it('a retried command returns a copy of the first result, unaffected by later state', () => {
    const { apply } = harness();
    apply(cmd('put', ['k', 'v1'], { clientId: 'c', seq: 1 }));
    expect(apply(cmd('put', ['k', 'v2'], { clientId: 'c', seq: 2 }))).toEqual({ ok: true, value: 'v1' });
    apply(cmd('put', ['k', 'v3'], { clientId: 'c', seq: 3 }));
    expect(apply(cmd('put', ['k', 'v2'], { clientId: 'c', seq: 2 }))).toEqual({
      ok: true,
      value: 'v1',
      duplicateOf: 2,
    });
  });

  it('a failure is a result too: its retry fails the same way without running again', () => {
    const { machine, apply } = harness();
    const first = apply(cmd('putThenFail', ['k'], { clientId: 'c', seq: 1 }));
    machine.entries.clear();
    const retry = apply(cmd('putThenFail', ['k'], { clientId: 'c', seq: 1 }));
    expect(retry).toEqual({ ...first, duplicateOf: 1 });
    expect(!retry.ok && retry.error).toBeInstanceOf(CommandFailedError);
    expect(machine.entries.size).toBe(0);
  });

  it('commands may arrive out of seq order; each applies once', () => {
    const { machine, apply } = harness();
    apply(incr('c', 1));
    apply(incr('c', 3));
    apply(incr('c', 2));
    apply(incr('c', 3));
    expect(machine.counter).toBe(3);
  });

  it('ackedBelow drops the acknowledged results: their retries then fail with SessionExpiredError', () => {
    const { machine, apply } = harness();
    apply(incr('c', 1));
    apply(incr('c', 2));
    apply(incr('c', 3, { ackedBelow: 3 }));
    expect(apply(incr('c', 1))).toEqual(expired('c'));
    expect(apply(incr('c', 2))).toEqual(expired('c'));
    expect(apply(incr('c', 3))).toEqual({ ok: true, value: 3, duplicateOf: 3 });
    expect(machine.counter).toBe(3);
  });

  it('a retry carrying a later ackedBelow drops results too, but never its own', () => {
    const { apply } = harness();
    apply(incr('c', 1));
    apply(incr('c', 2));
    expect(apply(incr('c', 2, { ackedBelow: 2 }))).toEqual({ ok: true, value: 2, duplicateOf: 2 });
    expect(apply(incr('c', 1))).toEqual(expired('c'));
    expect(apply(incr('c', 2))).toEqual({ ok: true, value: 2, duplicateOf: 2 });
  });

  it('an unknown client past seq 1 gets SessionExpiredError and nothing applies', () => {
    const { machine, host, apply } = harness();
    expect(apply(incr('ghost', 4))).toEqual(expired('ghost'));
    expect(machine.counter).toBe(0);
    expect(host.sessionCount).toBe(0);
  });

  it('sessions idle longer than sessionTtlMs (by replicated time) expire', () => {
    const { machine, host, apply } = harness({ sessionTtlMs: 1000 });
    apply(incr('old', 1, { time: 0 }));
    apply(incr('old', 2, { time: 10 }));
    apply(incr('other', 1, { time: 1010 })); // old idle exactly 1000 ms: kept
    expect(host.sessionCount).toBe(2);
    apply(incr('other', 2, { time: 1011 })); // old idle 1001 ms: dropped
    expect(host.sessionCount).toBe(1);
    expect(apply(incr('old', 2, { time: 1011 }))).toEqual(expired('old'));
    expect(apply(incr('other', 2, { time: 1011 }))).toEqual({ ok: true, value: 4, duplicateOf: 4 });
    expect(machine.counter).toBe(4);
  });

  it('expiry follows the clamped time: an entry stamped in the past counts as seen at the log time', () => {
    const { host, apply } = harness({ sessionTtlMs: 100 });
    apply(incr('a', 1, { time: 1000 }));
    apply(incr('b', 1, { time: 500 })); // seen at 1000, not at 500
    apply(incr('c', 1, { time: 1100 }));
    expect(host.sessionCount).toBe(3);
    expect(apply(incr('b', 1, { time: 1100 }))).toEqual({ ok: true, value: 2, duplicateOf: 2 });
  });

  it('maxSessions evicts the least recently used session', () => {
    const { machine, host, apply } = harness({ maxSessions: 2 });
    apply(incr('a', 1));
    apply(incr('b', 1));
    apply(incr('a', 2)); // a is now the most recently used
    apply(incr('c', 1)); // evicts b
    expect(host.sessionCount).toBe(2);
    expect(apply(incr('b', 2))).toEqual(expired('b'));
    expect(apply(incr('a', 2))).toEqual({ ok: true, value: 3, duplicateOf: 3 });
    expect(apply(incr('c', 1))).toEqual({ ok: true, value: 4, duplicateOf: 4 });
    expect(machine.counter).toBe(4);
  });

  it('maxResultsPerSession bounds what a client that never acknowledges keeps: the oldest results go, and their resends are refused, never applied again', () => {
    const { machine, host, apply } = harness({ maxResultsPerSession: 3 });
    for (let seq = 1; seq <= 10; seq++) apply(incr('c', seq));
    expect(machine.counter).toBe(10);
    // The last three results are kept; older seqs count as acknowledged.
    expect(apply(incr('c', 9))).toEqual({ ok: true, value: 9, duplicateOf: 9 });
    expect(apply(incr('c', 5))).toEqual(expired('c'));
    expect(apply(incr('c', 1))).toEqual(expired('c'));
    expect(machine.counter).toBe(10);
    // The snapshot keeps only what the bound leaves, and a restored host refuses the same seqs.
    const restored = new MachineHost(new KvMachine(), { maxResultsPerSession: 3 });
    restored.restore(host.snapshot());
    expect(restored.apply(incr('c', 7), at(100))).toEqual(expired('c'));
    expect(restored.apply(incr('c', 8), at(101))).toEqual({ ok: true, value: 8, duplicateOf: 8 });
    expect(() => new MachineHost(new KvMachine(), { maxResultsPerSession: 0 })).toThrow(
      /maxResultsPerSession \(0\) must be an integer of at least 1/,
    );
  });

  it('commands without a session are never deduplicated', () => {
    const { machine, host, apply } = harness();
    apply(cmd('incr', [1]));
    apply(cmd('incr', [1]));
    expect(machine.counter).toBe(2);
    expect(host.sessionCount).toBe(0);
  });

  it('documented limit of unregistered ids: after expiry, seq 1 starts a new session (registered ones refuse it)', () => {
    const { machine, apply } = harness({ sessionTtlMs: 10 });
    apply(incr('c', 1, { time: 0 }));
    apply(incr('other', 1, { time: 11 }));
    expect(apply(incr('c', 1, { time: 11 }))).toEqual({ ok: true, value: 3 });
    expect(machine.counter).toBe(3);
  });

  it('a result that is not plain data fails the command, the same way on every retry', () => {
    class Point {
      constructor(readonly x: number) {}
    }
    @StateMachine('leaky')
    class Leaky extends ReplicatedStateMachine {
      n = 0;
      @Command() make(): Point {
        return new Point(++this.n);
      }
    }
    const machine = new Leaky();
    const host = new MachineHost(machine);
    const make = cmd('make', [], { clientId: 'c', seq: 1 });
    const first = host.apply(make, at(1));
    expect(!first.ok && first.error).toEqual(
      new CommandFailedError(
        'make',
        'its result cannot be kept: the result holds an instance of Point, which is not plain data ' +
          '(objects, arrays, Map, Set, Date, typed arrays, primitives): return plain data from handlers',
      ),
    );
    expect(host.apply(make, at(2))).toEqual({ ...first, duplicateOf: 1 });
    expect(machine.n).toBe(1);
    // Without a session nothing is stored, and the value goes back as is.
    expect(host.apply(cmd('make', []), at(3))).toEqual({ ok: true, value: new Point(2) });
  });
});
