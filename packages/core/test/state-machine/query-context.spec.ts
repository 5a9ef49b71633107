// A @Query handler reads this.context: the index, term and time of the last
// command applied, the same on every replica that applied the same commands.
import { pack, unpack } from '../../src/codec';
import type { ApplyContext } from '../../src/node/applier';
import { Command, Query, StateMachine, Validate } from '../../src/state-machine/decorators';
import { MachineHost } from '../../src/state-machine/host';
import { ReplicatedStateMachine } from '../../src/state-machine/machine';
import { at, cmd } from './kv-machine';

/** Leases whose expiry a query judges by replicated time, without storing the last command's time. */
@StateMachine('query-leases')
class Leases extends ReplicatedStateMachine {
  expiries: Record<string, number> = {};

  @Command() grant(key: string, ttlMs: number): number {
    const until = this.context.time + ttlMs;
    this.expiries[key] = until;
    return until;
  }

  @Command() fail(): never {
    throw new Error('refused');
  }

  @Validate('fail') protected peek(): void {
    void this.context;
  }

  @Query() held(key: string): boolean {
    return (this.expiries[key] ?? -Infinity) > this.context.time;
  }

  @Query() now(): ApplyContext {
    return this.context;
  }

  @Query() broken(): never {
    throw new Error('query failed');
  }
}

describe('state machine - the context a @Query handler sees', () => {
  it('is { index: 0, term: 0, time: 0 } before any command', () => {
    expect(new MachineHost(new Leases()).query('now', [])).toEqual({ index: 0, term: 0, time: 0 });
  });

  it('is the last applied command’s index, term and (clamped) time, failed commands included', () => {
    const host = new MachineHost(new Leases());
    host.apply(cmd('grant', ['a', 100], { time: 1000 }), at(3, 2));
    expect(host.query('now', [])).toEqual({ index: 3, term: 2, time: 1000 });
    expect(host.query('held', ['a'])).toBe(true);
    host.apply(cmd('fail', [], { time: 900 }), at(5, 4)); // time never goes back
    expect(host.query('now', [])).toEqual({ index: 5, term: 4, time: 1000 });
    host.apply(cmd('grant', ['b', 10], { time: 1100 }), at(6, 4));
    expect(host.query('held', ['a'])).toBe(false); // a expired at 1100 by replicated time
    expect(host.query('held', ['b'])).toBe(true);
    expect(host.query('now', [])).toEqual({ index: 6, term: 4, time: host.time });
  });

  it('is read-only, and gone once the query returns or throws', () => {
    const host = new MachineHost(new Leases());
    host.apply(cmd('grant', ['a', 1], { time: 5 }), at(1));
    const seen = host.query('now', []) as ApplyContext;
    expect(Object.isFrozen(seen)).toBe(true);
    expect(() => host.query('broken', [])).toThrow('query failed');
    expect(() => host.validate({ name: 'fail', args: [] })).toThrow(
      /only available while a @Command or @Query/,
    );
    expect(host.query('now', [])).toEqual({ index: 1, term: 1, time: 5 });
  });

  it('is the same after a snapshot is restored; a snapshot without the term restores term 0', () => {
    const host = new MachineHost(new Leases());
    host.apply(cmd('grant', ['a', 50], { time: 70 }), at(9, 3));
    const restored = new MachineHost(new Leases());
    restored.restore(host.snapshot());
    expect(restored.query('now', [])).toEqual({ index: 9, term: 3, time: 70 });
    expect(restored.query('held', ['a'])).toBe(true);

    // The layout before the term was kept: six elements.
    const older = (unpack(host.snapshot()) as unknown[]).slice(0, 6);
    const fromOlder = new MachineHost(new Leases());
    fromOlder.restore(pack(older));
    expect(fromOlder.query('now', [])).toEqual({ index: 9, term: 0, time: 70 });
    fromOlder.apply(cmd('grant', ['b', 1], { time: 80 }), at(10, 3));
    expect(fromOlder.query('now', [])).toEqual({ index: 10, term: 3, time: 80 });
    expect(() => fromOlder.restore(pack([...older, 'x']))).toThrow('snapshot header is malformed');
  });
});
