// @Tick: a command the leader proposes every everyMs while it leads, applied
// in log order on every replica with replicated time.
import { ConfigError } from '../../src/errors';
import type { CommandRequest } from '../../src/node/command';
import { TickProposer, type TickSpec } from '../../src/node/ticks';
import { silentLogger } from '../../src/logger';
import type { Cancel, Clock } from '../../src/ports/clock';
import {
  MachineHost,
  MemoryLogStore,
  MemoryNetwork,
  MemoryStableStore,
  RaftNode,
  seededRandom,
  systemClock,
} from '../../src/index';
import { Command, Query, StateMachine, Tick } from '../../src/state-machine/decorators';
import { ReplicatedStateMachine } from '../../src/state-machine/machine';
import { FAST, until } from '../support/nodes';

/** Leases that only a command can expire; the tick is that command. */
@StateMachine('ticking')
class Ticking extends ReplicatedStateMachine {
  /** [index, term, time] of every tick applied. */
  ticks: [number, number, number][] = [];

  @Tick({ everyMs: 20 })
  expire(): void {
    const { index, term, time } = this.context;
    this.ticks.push([index, term, time]);
  }

  @Command() put(): void {}

  @Query() count(): number {
    return this.ticks.length;
  }
}

/** A clock whose time moves only by advance(). */
class ManualClock implements Clock {
  private time = 0;
  private timers: { at: number; fn: () => void; live: boolean }[] = [];
  now(): number {
    return this.time;
  }
  setTimeout(fn: () => void, ms: number): Cancel {
    const timer = { at: this.time + ms, fn, live: true };
    this.timers.push(timer);
    return () => {
      timer.live = false;
    };
  }
  /** Timers set and not cancelled or fired. */
  get pending(): number {
    return this.timers.filter((t) => t.live).length;
  }
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.live && t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      due.live = false;
      this.time = due.at;
      due.fn();
    }
    this.time = end;
  }
}

describe('@Tick - declaration', () => {
  it('makes the method a command the host lists with its period', () => {
    const host = new MachineHost(new Ticking());
    expect(host.ticks()).toEqual([{ name: 'expire', everyMs: 20 }]);
    expect(host.table.commands.get('expire')).toBe('expire');
    expect(() => host.validate({ name: 'expire', args: [] })).not.toThrow();
    expect(new MachineHost(new Ticking()).ticks()).toHaveLength(1);
  });

  it('a machine without @Tick declares none', () => {
    @StateMachine('plain')
    class Plain extends ReplicatedStateMachine {
      @Command() go(): void {}
    }
    expect(new MachineHost(new Plain()).ticks()).toEqual([]);
  });

  it('takes a name, and refuses a bad period or a method with parameters, naming each', () => {
    @StateMachine('named')
    class Named extends ReplicatedStateMachine {
      @Tick({ everyMs: 1000, name: 'sweep' }) protected doSweep(): void {}
    }
    expect(new MachineHost(new Named()).ticks()).toEqual([{ name: 'sweep', everyMs: 1000 }]);

    @StateMachine('bad')
    class Bad extends ReplicatedStateMachine {
      @Tick({ everyMs: 0 }) a(): void {}
      @Tick({ everyMs: 1.5 }) b(): void {}
      @(Tick({ everyMs: 10 }) as ReturnType<typeof Command>) c(_n: number): void {}
    }
    expect(() => new MachineHost(new Bad())).toThrow(
      new ConfigError([
        'Bad.a(): @Tick everyMs (0) must be a positive integer of milliseconds',
        'Bad.b(): @Tick everyMs (1.5) must be a positive integer of milliseconds',
        'Bad.c(): @Tick command c must take no arguments (it declares 1)',
      ]),
    );
  });
});

describe('TickProposer - proposes while leading, one at a time', () => {
  function proposer(specs: readonly TickSpec[]) {
    const clock = new ManualClock();
    const proposed: string[] = [];
    const settle: (() => void)[] = [];
    const p = new TickProposer(
      {
        id: 'n1',
        clock,
        logger: silentLogger,
        leads: () => true,
        propose: (r: CommandRequest) => {
          proposed.push(`${r.name}@${clock.now()}${r.args.length ? ' with args' : ''}`);
          return new Promise<void>((resolve) => settle.push(resolve));
        },
      },
      specs,
    );
    const flush = async () => {
      settle.splice(0).forEach((s) => s());
      await new Promise((r) => setImmediate(r));
    };
    return { clock, proposed, p, flush };
  }

  it('proposes nothing as a follower; as leader every everyMs; skips while one is in flight', async () => {
    const { clock, proposed, p, flush } = proposer([{ name: 'expire', everyMs: 100 }]);
    clock.advance(1000);
    expect(proposed).toEqual([]);
    expect(clock.pending).toBe(0);
    p.setLeading(true);
    clock.advance(250);
    expect(proposed).toEqual(['expire@1100']); // 1200: the first has not settled
    await flush();
    clock.advance(100);
    expect(proposed).toEqual(['expire@1100', 'expire@1300']);
    await flush();
    p.setLeading(false);
    clock.advance(1000);
    expect(proposed).toHaveLength(2);
    expect(clock.pending).toBe(0);
    p.setLeading(true);
    clock.advance(100);
    expect(proposed).toEqual(['expire@1100', 'expire@1300', 'expire@2450']);
    p.stop();
    expect(clock.pending).toBe(0);
  });

  it('runs each tick on its own period; none at all without ticks', () => {
    const { clock, proposed, p } = proposer([
      { name: 'fast', everyMs: 10 },
      { name: 'slow', everyMs: 25 },
    ]);
    p.setLeading(true);
    clock.advance(30);
    expect(proposed).toEqual(['fast@10', 'slow@25']);
    const none = proposer([]);
    none.p.setLeading(true);
    expect(none.p.empty).toBe(true);
    expect(none.clock.pending).toBe(0);
  });
});

describe('@Tick - on a cluster of RaftNodes', () => {
  it('only the leader proposes ticks; every replica applies them in log order; a new leader goes on ticking', async () => {
    const net = new MemoryNetwork();
    const ids = ['a', 'b', 'c'];
    /** Each tick proposal a node validated (only the proposer validates), with whether it led then. */
    const validated: { id: string; leading: boolean }[] = [];
    const nodes = ids.map((id, i) => {
      const host = new MachineHost(new Ticking());
      const node: RaftNode = new RaftNode({
        id,
        voters: ids,
        logStore: new MemoryLogStore(),
        stableStore: new MemoryStableStore(),
        transport: net.transport(id),
        clock: systemClock,
        random: seededRandom(40 + i),
        applier: {
          ...bind(host),
          validate: (request) => {
            if (request.name === 'expire') validated.push({ id, leading: node.isLeader() });
            host.validate(request);
          },
        },
        config: FAST,
      });
      return { id, node, machine: host.machine as Ticking };
    });
    await Promise.all(nodes.map((n) => n.node.start()));
    try {
      const leaderOf = () => nodes.find((n) => n.node.isLeader());
      await until(() => leaderOf() !== undefined, 'a leader');
      const first = leaderOf()!;
      await until(() => nodes.every((n) => n.machine.ticks.length >= 5), 'five ticks everywhere');

      await first.node.stop();
      const rest = nodes.filter((n) => n !== first);
      await until(() => rest.some((n) => n.node.isLeader()), 'a new leader');
      const second = rest.find((n) => n.node.isLeader())!;
      const before = second.machine.ticks.length;
      await until(() => rest.every((n) => n.machine.ticks.length >= before + 5), 'five more ticks');

      expect(validated.length).toBeGreaterThanOrEqual(10);
      expect(validated.filter((v) => !v.leading)).toEqual([]);
      expect(validated.map((v) => v.id)).toEqual(expect.arrayContaining([first.id, second.id]));
      // Every replica applied the same ticks, in log order, with non-decreasing replicated time.
      const [x, y] = rest.map((n) => n.machine.ticks);
      const common = Math.min(x!.length, y!.length);
      expect(x!.slice(0, common)).toEqual(y!.slice(0, common));
      for (let i = 1; i < common; i++) {
        expect(x![i]![0]).toBeGreaterThan(x![i - 1]![0]);
        expect(x![i]![2]).toBeGreaterThanOrEqual(x![i - 1]![2]);
      }
      expect(x![common - 1]![1]).toBeGreaterThan(x![0]![1]); // the later ticks are the new leader's term
    } finally {
      await Promise.all(nodes.map((n) => n.node.stop()));
    }
  });
});

/** The host's Applier methods, bound. */
function bind(host: MachineHost) {
  return {
    validate: (r: CommandRequest) => host.validate(r),
    apply: host.apply.bind(host),
    query: host.query.bind(host),
    snapshot: host.snapshot.bind(host),
    restore: host.restore.bind(host),
    digest: host.digest.bind(host),
    onRoleChange: host.onRoleChange.bind(host),
    ticks: host.ticks.bind(host),
  };
}
