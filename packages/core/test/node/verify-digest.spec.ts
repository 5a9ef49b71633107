import {
  Command,
  MachineHost,
  ReplicatedStateMachine,
  StateMachine,
  decodeCommand,
  encodeCommand,
} from '../../src/index';
import { decodeVerification, encodeMarker, encodeReport } from '../../src/node/verification';
import { canonicalDigest } from '../../src/state-machine/digest';
import { KvMachine, at, cmd } from '../state-machine/kv-machine';

const digest = (v: unknown): string => canonicalDigest(v, 'state');

describe('consistency verification - canonical digest', () => {
  it('is equal for equal content built in another order: object keys, Map entries, Set elements', () => {
    const a = {
      x: 1,
      y: new Map([
        ['a', 1],
        ['b', 2],
      ]),
      z: new Set(['p', 'q']),
    };
    const b = {
      z: new Set(['q', 'p']),
      y: new Map([
        ['b', 2],
        ['a', 1],
      ]),
      x: 1,
    };
    expect(digest(b)).toBe(digest(a));
    expect(digest(a)).toMatch(/^[0-9a-f]{64}$/);
    // Keys and elements of mixed kinds are ordered by their encoding.
    const mixed = (): [unknown, string][] => [
      [1, 'a'],
      ['1', 'b'],
      [[1], 'c'],
      [{ k: 1 }, 'd'],
      [NaN, 'e'],
    ];
    expect(digest(new Map(mixed().reverse()))).toBe(digest(new Map(mixed())));
    expect(
      digest(
        new Set(
          mixed()
            .map(([k]) => k)
            .reverse(),
        ),
      ),
    ).toBe(digest(new Set(mixed().map(([k]) => k))));
    expect(digest(new Set([1, 2, 10]))).toBe(digest(new Set([10, 2, 1])));
  });

  it('is equal across what a snapshot round trip changes: -0 and 0, a Buffer and its Uint8Array', () => {
    expect(digest([-0])).toBe(digest([0]));
    expect(digest(Buffer.from([1, 2, 3]))).toBe(digest(new Uint8Array([1, 2, 3])));
    expect(digest([NaN])).toBe(digest([Number('x')]));
  });

  it('differs for any difference of value or kind, and keeps array order', () => {
    const distinct = [
      1,
      '1',
      1n,
      true,
      null,
      undefined,
      [],
      {},
      new Map(),
      new Set(),
      new Date(1),
      new Uint8Array([1]),
      new Int8Array([1]),
      [1, 2],
      [2, 1],
      { a: 1 },
      { a: 2 },
      { b: 1 },
      new Map([[1, 'a']]),
      new Map([['1', 'a']]),
      new Set([1]),
      ['a', 'b'],
      ['ab'],
      [['a'], 'b'],
    ];
    const digests = distinct.map(digest);
    expect(new Set(digests).size).toBe(distinct.length);
  });

  it('refuses what is not plain data, naming where it is', () => {
    class Thing {}
    expect(() => digest({ list: [1, new Thing()] })).toThrow(/state\.list\[1\] holds an instance of Thing/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => digest(cyclic)).toThrow(/state\.self refers back to one of its parents/);
    expect(() => digest({ f: () => 1 })).toThrow(/state\.f holds a function/);
  });

  it('streams large states (more than one buffer) to the same digest as the same content in another order', () => {
    const keys = Array.from({ length: 20_000 }, (_, i) => `key-${i}`);
    const forward = new Map(keys.map((k) => [k, k.repeat(3)]));
    const backward = new Map([...keys].reverse().map((k) => [k, k.repeat(3)]));
    expect(digest(backward)).toBe(digest(forward));
    forward.set('key-19999', 'changed');
    expect(digest(forward)).not.toBe(digest(backward));
  });
});

@StateMachine('verify-kv')
class LocalFieldKv extends ReplicatedStateMachine {
  data = new Map<string, string>();
  /** Not replicated: each replica has its own (as a role flag would be). */
  local = Math.random();

  @Command()
  put(key: string, value: string): null {
    this.data.set(key, value);
    return null;
  }

  override snapshotState(): unknown {
    return { data: this.data };
  }

  override restoreState(state: unknown): void {
    this.data = (state as { data: Map<string, string> }).data;
  }
}

describe('consistency verification - MachineHost.digest', () => {
  function applied(): MachineHost {
    const host = new MachineHost(new KvMachine());
    host.apply(cmd('put', ['a', '1'], { time: 5, clientId: 'c1', seq: 1 }), at(1));
    host.apply(cmd('tag', ['t']), at(2));
    host.apply(cmd('put', ['b', '2'], { time: 7, clientId: 'c2', seq: 1 }), at(3));
    return host;
  }

  it('is equal on a replica that restored the snapshot of one that applied the log', () => {
    const live = applied();
    const restored = new MachineHost(new KvMachine());
    restored.restore(live.snapshot());
    expect(restored.digest()).toBe(live.digest());
    expect(live.digest()).toMatch(/^c1:[0-9a-f]{64}$/);
  });

  it("covers the machine's state, the session table and the replicated time", () => {
    const reference = applied().digest();
    const state = applied();
    state.apply(cmd('incr', [0]), at(4)); // no change of state, time (clamped to 7) or sessions: only the index moved
    expect(state.digest()).toBe(reference);
    state.apply(cmd('incr', [1]), at(5));
    expect(state.digest()).not.toBe(reference);

    const session = applied();
    session.apply(cmd('incr', [0], { time: 7, clientId: 'c3', seq: 1 }), at(4)); // only a new session
    expect(session.digest()).not.toBe(reference);

    const time = applied();
    time.apply(cmd('incr', [0], { time: 8 }), at(4)); // only the time moves
    expect(time.digest()).not.toBe(reference);
  });

  it('hashes digestState(), so a machine can leave out what is local', () => {
    const a = new MachineHost(new LocalFieldKv());
    const b = new MachineHost(new LocalFieldKv());
    expect((a.machine as LocalFieldKv).local).not.toBe((b.machine as LocalFieldKv).local);
    // By default digestState() is snapshotState(), which leaves `local` out.
    expect(b.digest()).toBe(a.digest());
    @StateMachine('verify-kv-everything')
    class Everything extends LocalFieldKv {
      override digestState(): unknown {
        return { data: this.data, local: this.local };
      }
    }
    expect(new MachineHost(new Everything()).digest()).not.toBe(new MachineHost(new Everything()).digest());
  });
});

describe('consistency verification - marker and report entries', () => {
  it('are never taken for commands, and commands never for them', () => {
    expect(decodeVerification(encodeMarker())).toEqual({ kind: 'marker' });
    expect(decodeVerification(encodeReport(7, 'c1:ab', 'n1'))).toEqual({
      kind: 'report',
      marker: 7,
      digest: 'c1:ab',
      leader: 'n1',
    });
    expect(() => decodeCommand(encodeMarker())).toThrow(/not a command envelope/);
    expect(() => decodeCommand(encodeReport(7, 'c1:ab', 'n1'))).toThrow(/not a command envelope/);
    for (const name of ['V', 'raftline', '\u0056', '']) {
      expect(decodeVerification(encodeCommand({ name, args: [0x56, 1], time: 0 }))).toBeUndefined();
    }
  });
});
