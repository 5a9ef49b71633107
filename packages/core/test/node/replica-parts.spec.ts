import 'reflect-metadata';
import { MemoryLogStore, MemoryNetwork, MemoryStableStore, seededRandom, type Logger } from '../../src/index';
import { Container, RAFTLINE, replicaFrom, replicaModule } from '../../src/inversify';
import { KvMachine } from '../state-machine/kv-machine';

describe('replicaModule - parts bound one by one', () => {
  it('a bound logger and log store replace the options own, and unbound parts keep theirs', async () => {
    const net = new MemoryNetwork();
    const optionsLog = new MemoryLogStore();
    const boundLog = new MemoryLogStore();
    const stableStore = new MemoryStableStore();
    const lines: string[] = [];
    const logger: Logger = {
      debug: () => {},
      info: (_o, msg) => lines.push(msg ?? ''),
      warn: () => {},
      error: () => {},
    };
    const container = new Container();
    container.loadSync(
      replicaModule({
        id: 'n1',
        voters: ['n1'],
        machine: new KvMachine(),
        logStore: optionsLog,
        stableStore,
        transport: net.transport('n1'),
        random: seededRandom(1),
        config: { electionTimeoutMs: 60, heartbeatMs: 15, tickMs: 5 },
      }),
    );
    container.bind<Logger>(RAFTLINE.Logger).toConstantValue(logger);
    container.bind(RAFTLINE.LogStore).toConstantValue(boundLog);
    const replica = replicaFrom<KvMachine>(container);
    await replica.start();
    try {
      for (let i = 0; i < 200 && replica.status().role !== 'leader'; i++)
        await new Promise((r) => setTimeout(r, 5));
      await replica.commands.put('k', 'v');
      expect(await boundLog.lastIndex()).toBeGreaterThan(0);
      expect(await optionsLog.lastIndex()).toBe(0);
      expect(lines).toContain('raft node started');
      expect((await stableStore.load())?.term).toBeGreaterThan(0);
    } finally {
      await replica.stop();
    }
  });
});
