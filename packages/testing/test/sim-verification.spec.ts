import { Command, Query, ReplicatedStateMachine, StateMachine, type NodeId } from '@raftline/core';
import { SafetyViolationError, type SimCluster } from '../src/index';
import { cluster, put, until } from './support/sim';

/** A key-value store whose put stores Math.random(): every replica ends up with its own values. */
@StateMachine('sim-random-kv')
class RandomKv extends ReplicatedStateMachine {
  data = new Map<string, number>();

  @Command()
  put(key: string): number {
    const value = Math.random(); // the bug: not replicated
    this.data.set(key, value);
    return value;
  }

  @Query()
  read(key: string): number | null {
    return this.data.get(key) ?? null;
  }
}

/** A counter one replica can be made to miscount once (a flipped bit, a one-off bug). */
@StateMachine('sim-tally')
class Tally extends ReplicatedStateMachine {
  total = 0;
  #skew = 0;

  /** The next add on this replica counts one too many. */
  miscountNext(): void {
    this.#skew = 1;
  }

  @Command()
  add(n: number): number {
    this.total += n + this.#skew;
    this.#skew = 0;
    return this.total;
  }

  @Query()
  value(): number {
    return this.total;
  }
}

const add = (n: number) => ({ name: 'add', args: [n] });

function followersOf(c: SimCluster, leader: NodeId): NodeId[] {
  return c.ids.filter((id) => id !== leader);
}

describe('SimCluster - consistency verification', () => {
  it('catches a handler that reads Math.random() within one verification interval', async () => {
    const c = await cluster({
      nodes: 3,
      seed: 11,
      stateMachine: () => new RandomKv(),
      node: { verifyEveryEntries: 10 },
    });
    for (let k = 0; k < 10; k++) await c.propose({ name: 'put', args: [`k${k}`] });
    const leader = await c.waitForLeader();
    const followers = followersOf(c, leader);
    await until(c, () => followers.every((id) => c.status(id).verification.diverged !== undefined), 2000);

    // The first marker, right after the tenth command, is where every follower found out.
    const marker = c.status(leader).verification.lastIndex;
    expect(marker).toBeGreaterThan(10);
    for (const id of followers) {
      const s = c.status(id).verification;
      expect(s).toMatchObject({
        diverged: { index: marker, leaderId: leader },
        stoppedApplying: true,
        compared: 1,
      });
      expect(s.diverged!.actual).not.toBe(s.diverged!.expected);
    }
    // The error line each logged fails the run's health check.
    expect(() => c.check()).toThrow(SafetyViolationError);
    expect(() => c.check()).toThrow(/diverged from the leader's at a verification marker/);
    // An explicit check names them too: they stopped applying before its marker.
    const v = await c.verify();
    expect(v.leader).toBe(leader);
    expect(v.diverged).toEqual(followers);
    expect(v.digests[leader]).toBe(v.digest);
  });

  it('never reports a divergence of a deterministic machine across crashes, snapshots, restarts and membership changes', async () => {
    const c = await cluster({ nodes: 3, seed: 5, snapshotEvery: 8, node: { verifyEveryEntries: 5 } });
    let n = 0;
    const write = async (count: number): Promise<void> => {
      for (let k = 0; k < count; k++, n++) await c.propose(put(`k${n % 4}`, `v${n}`));
    };
    await write(12);
    const first = await c.waitForLeader();
    const crashed = followersOf(c, first)[0]!;
    c.crash(crashed);
    await write(20); // snapshots past what the crashed one holds
    await c.restart(crashed);
    await c.addNode('n4'); // joins by snapshot
    await write(8);
    const leader = await c.waitForLeader();
    await c.removeNode(leader);
    c.crash(leader);
    await c.transferLeadership();
    await write(8);

    const v = await c.verify();
    expect(v.diverged).toEqual([]);
    expect(v.behind).toEqual([]);
    expect(Object.keys(v.digests).sort()).toEqual([...c.runningIds()].sort());
    for (const id of c.runningIds()) {
      expect(v.digests[id]).toBe(v.digest);
      const s = c.status(id).verification;
      expect(s.diverged).toBeUndefined();
      expect(s.compared).toBeGreaterThan(0);
    }
    expect(c.status(crashed).verification.compared).toBeGreaterThan(1); // periodic markers since its restart
    expect(c.status('n4').snapshotIndex).toBeGreaterThan(0); // it did start from a snapshot
    c.check();
  });

  it("resumes a replica that stopped applying once it installs the leader's snapshot", async () => {
    const c = await cluster({
      nodes: 3,
      seed: 3,
      stateMachine: () => new Tally(),
      snapshotEvery: 10,
      node: { verifyEveryEntries: 5 },
    });
    await c.propose(add(1));
    const leader = await c.waitForLeader();
    const bad = followersOf(c, leader)[0]!;
    (c.machine(bad) as Tally).miscountNext();
    for (let k = 0; k < 5; k++) await c.propose(add(1));
    await until(c, () => c.status(bad).verification.stoppedApplying, 2000);
    const stoppedAt = c.status(bad).appliedIndex;

    // Cut off, it falls behind the leader's compacted log; back, it gets the leader's snapshot.
    c.disconnect(bad);
    for (let k = 0; k < 30; k++) await c.propose(add(1));
    expect(c.status(bad).appliedIndex).toBe(stoppedAt);
    c.connect(bad);
    await until(c, () => !c.status(bad).verification.stoppedApplying, 5000);
    expect(c.status(bad).verification.diverged).toBeUndefined();
    expect(c.status(bad).snapshotIndex).toBeGreaterThan(stoppedAt);

    // From the leader's state on, it matches again.
    const v = await c.verify();
    expect(v.diverged).toEqual([]);
    expect(v.digests[bad]).toBe(v.digest);
    expect(c.status(bad).verification.lastMatchedIndex).toBe(v.index);
    expect((c.machine(bad) as Tally).value()).toBe(36);
  });
});
