import {
  CommandRejectedError,
  MemoryLogStore,
  MemoryNetwork,
  MemoryStableStore,
  Replica,
  seededRandom,
  type CommittedEvent,
} from '../../src/index';
import { Container, replicaFrom, replicaModule } from '../../src/inversify';
import { KvMachine } from '../state-machine/kv-machine';

const ids = ['n1', 'n2', 'n3'];
const config = { electionTimeoutMs: 60, heartbeatMs: 15, tickMs: 5 };

async function threeReplicas() {
  const net = new MemoryNetwork();
  const rng = seededRandom(3);
  const replicas = ids.map((id) => {
    const container = new Container();
    container.loadSync(
      replicaModule({
        id,
        voters: ids,
        machine: new KvMachine(),
        logStore: new MemoryLogStore(),
        stableStore: new MemoryStableStore(),
        transport: net.transport(id),
        random: rng.fork(),
        config,
      }),
    );
    return replicaFrom<KvMachine>(container);
  });
  await Promise.all(replicas.map((r) => r.start()));
  return replicas;
}

async function leaderOf(replicas: Replica<KvMachine>[]): Promise<Replica<KvMachine>> {
  for (let i = 0; i < 400; i++) {
    const leader = replicas.find((r) => r.node.isLeader());
    if (leader) return leader;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('no leader');
}

describe('Replica - assembled by the inversify module', () => {
  it('runs typed commands and queries, rejects invalid commands at the door, and streams the committed log', async () => {
    const replicas = await threeReplicas();
    try {
      const leader = await leaderOf(replicas);
      expect(await leader.commands.put('a', '1')).toBeUndefined();
      expect(await leader.commands.put('a', '2')).toBe('1');
      expect(await leader.commands.incr(5)).toBe(5);
      await expect(leader.commands.put('', 'x')).rejects.toBeInstanceOf(CommandRejectedError);
      expect(await leader.queries.get('a')).toBe('2');

      const events: CommittedEvent[] = [];
      for await (const e of leader.committed({ fromIndex: 1 })) {
        events.push(e);
        if (events.length === 3) break;
      }
      expect(events.map((e) => [e.command.name, e.command.args])).toEqual([
        ['put', ['a', '1']],
        ['put', ['a', '2']],
        ['incr', [5]],
      ]);
      expect(events.map((e) => e.index)).toEqual([2, 3, 4]); // index 1 is the leader's no-op
      expect(events[1]!.outcome).toEqual({ kind: 'applied', value: '1' });

      // Resuming from an index yields the same suffix.
      const resumed: number[] = [];
      for await (const e of leader.committed({ fromIndex: 3 })) {
        resumed.push(e.index);
        if (resumed.length === 2) break;
      }
      expect(resumed).toEqual([3, 4]);
    } finally {
      await Promise.all(replicas.map((r) => r.stop()));
    }
  });

  it('applies a retried command with the same client session once', async () => {
    const replicas = await threeReplicas();
    try {
      const leader = await leaderOf(replicas);
      const session = { clientId: 'client-1', seq: 1 };
      const first = await leader.propose({ name: 'incr', args: [1], session });
      const retry = await leader.propose({ name: 'incr', args: [1], session });
      expect([first, retry]).toEqual([1, 1]);
      expect(await leader.commands.incr(0)).toBe(1);
    } finally {
      await Promise.all(replicas.map((r) => r.stop()));
    }
  });
});
