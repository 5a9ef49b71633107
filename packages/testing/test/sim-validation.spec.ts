import {
  Command,
  CommandRejectedError,
  Query,
  ReplicatedStateMachine,
  StateMachine,
  Validate,
  type NodeId,
} from '@raftline/core';
import { SimCluster } from '../src/index';

jest.setTimeout(60_000);

/** Flags that must name an existing segment: a validator that reads state. */
@StateMachine('sim-segments')
class Segments extends ReplicatedStateMachine {
  private segments: string[] = [];
  private flags: Record<string, string> = {};
  /** How often setFlag's validator ran on this replica: local, so kept out of snapshots. */
  validated = 0;

  @Command()
  createSegment(name: string): number {
    this.segments.push(name);
    return this.context.index;
  }

  @Command()
  setFlag(key: string, segment: string): number {
    if (!this.segments.includes(segment)) throw new Error(`unknown segment ${segment}`);
    this.flags[key] = segment;
    return this.context.index;
  }

  @Validate('setFlag')
  protected checkSetFlag(_key: unknown, segment: unknown): string | undefined {
    this.validated++;
    return this.segments.includes(String(segment)) ? undefined : `unknown segment ${String(segment)}`;
  }

  @Query()
  hasSegment(name: string): boolean {
    return this.segments.includes(name);
  }

  override snapshotState(): unknown {
    return { segments: this.segments, flags: this.flags };
  }

  override restoreState(state: unknown): void {
    const s = state as { segments: string[]; flags: Record<string, string> };
    this.segments = s.segments;
    this.flags = s.flags;
  }
}

const validated = (c: SimCluster, id: NodeId): number => (c.machine(id) as Segments).validated;
const hasSegment = (c: SimCluster, id: NodeId, name: string): boolean =>
  (c.machine(id) as Segments).hasSegment(name);

describe('SimCluster - validation sees every acknowledged command', () => {
  it('a new leader that has not applied its term’s no-op holds a command, then validates it against current state', async () => {
    const c = await SimCluster.create({ nodes: 3, seed: 5, stateMachine: () => new Segments() });
    const old = await c.waitForLeader();
    await c.propose({ name: 'createSegment', args: ['green'] });
    const { commitIndex, term } = c.status(old);
    // The followers receive blue's entry but never hear that it committed.
    c.dropWhere(
      (m) => m.from === old && (m.type === 'append' || m.type === 'heartbeat') && m.commit > commitIndex,
    );
    const blueAt = (await c.propose({ name: 'createSegment', args: ['blue'] })) as number; // acknowledged
    const others = c.ids.filter((id) => id !== old);
    c.partition([old], others);
    const acks = c.dropWhere((m) => m.type === 'append-resp' && m.term > term); // a new leader cannot commit
    const leader = await c.waitForLeader(5000, others);
    const follower = others.find((id) => id !== leader)!;

    expect(c.status(leader).appliedOwnTerm).toBe(false);
    expect(hasSegment(c, leader, 'blue')).toBe(false); // the window: its state lags what was acknowledged
    const flag = { name: 'setFlag', args: ['f', 'blue'] };
    expect(c.submit(leader, flag)).toEqual({ index: -1, term: c.status(leader).term, isLeader: false });
    expect(c.submit(follower, flag).isLeader).toBe(false);
    const held = c.call(leader, flag, 5000);
    expect([validated(c, leader), validated(c, follower)]).toEqual([0, 0]);

    acks.remove();
    const at = (await c.drive(held)) as number;
    expect(at).toBeGreaterThan(blueAt);
    expect(c.status(leader).appliedOwnTerm).toBe(true);
    expect([validated(c, leader), validated(c, follower)]).toEqual([1, 0]);
    // A caught-up leader's submit validates against current state at once.
    expect(() => c.submit(leader, { name: 'setFlag', args: ['g', 'red'] })).toThrow(CommandRejectedError);
    expect(c.submit(leader, { name: 'setFlag', args: ['g', 'blue'] }).isLeader).toBe(true);
    c.heal();
    await c.advance(2000);
    c.check();
    await c.stop();
  });
});
