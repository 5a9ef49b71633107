// The README's state-machine example, kept runnable here.
import { Command, Query, ReplicatedStateMachine, StateMachine, Validate } from '@raftline/core';
import { SimCluster } from '../src/index';

@StateMachine('counter')
class Counter extends ReplicatedStateMachine {
  private counts: Record<string, number> = {};

  @Command()
  add(name: string, by: number): number {
    this.counts[name] = (this.counts[name] ?? 0) + by;
    return this.counts[name];
  }

  @Validate('add')
  protected checkAdd(name: string, by: number): string | undefined {
    return Number.isInteger(by) ? undefined : 'by must be an integer';
  }

  @Query()
  get(name: string): number {
    return this.counts[name] ?? 0;
  }
}

describe('README - a state machine on a simulated 3-node cluster', () => {
  it('runs commands, survives a partition, and passes the safety check', async () => {
    const c = await SimCluster.create({ nodes: 3, seed: 7, stateMachine: () => new Counter() });
    await c.advance(1000); // virtual time: an election happens
    expect(await c.propose({ name: 'add', args: ['apples', 2] })).toBe(2);

    const leader = c.ids.find((id) => c.status(id).role === 'leader')!;
    const others = c.ids.filter((id) => id !== leader);
    c.partition([leader], others); // the old leader is alone; the majority elects a new one
    await c.advance(2000);
    expect(await c.propose({ name: 'add', args: ['apples', 3] })).toBe(5);

    c.heal();
    await c.advance(2000);
    c.check(); // throws, naming the property, if any safety property was violated
    for (const id of c.ids) expect([...c.applied(id).values()].length).toBe(2);
    await c.stop();
  });
});
