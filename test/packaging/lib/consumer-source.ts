// The program the fresh consumer projects of consumer.spec.ts compile and
// run, written as a user would: public imports from every package, a state
// machine with decorators (compiled in either TypeScript mode), three
// replicas on a MemoryNetwork, and a SimCluster test. It prints one line of
// JSON, a ConsumerReport.

/** What the consumer program prints. */
export interface ConsumerReport {
  readonly replicas: {
    readonly results: number[];
    readonly totals: number[];
    readonly rejected: { name: string; isRaftlineError: boolean };
  };
  readonly sim: { readonly results: number[]; readonly checked: boolean };
  readonly errors: { name: string; message: string }[];
  readonly loaded: { natsTransport: string; createPostgresStores: string };
  /** One replica assembled by an inversify container (@raftline/core/inversify). */
  readonly container: { readonly result: number; readonly bound: boolean };
}

/** The consumer's src/main.ts; the same text for a CommonJS and an ES module project. */
export function consumerSource(): string {
  return `import {
  buildDispatchTable,
  Command,
  MemoryLogStore,
  MemoryNetwork,
  MemorySnapshotStore,
  MemoryStableStore,
  Query,
  RaftlineError,
  Replica,
  ReplicatedStateMachine,
  StateMachine,
  Validate,
} from '@raftline/core';
import { Container, RAFTLINE, replicaFrom, replicaModule } from '@raftline/core/inversify';
import { SimCluster } from '@raftline/testing';
import { NatsTransport, type NatsTransportOptions } from '@raftline/transport-nats';
import { createPostgresStores, type PostgresStoresOptions } from '@raftline/store-postgres';

@StateMachine('tally')
class Tally extends ReplicatedStateMachine {
  n = 0;

  @Command()
  add(by: number): number {
    return (this.n += by);
  }

  @Validate('add')
  protected checkAdd(by: number): string | undefined {
    return Number.isInteger(by) ? undefined : 'by must be an integer';
  }

  @Query()
  total(): number {
    return this.n;
  }
}

class Unnamed extends ReplicatedStateMachine {
  @Command() go(): void {}
}

@StateMachine('dup')
class Dup extends ReplicatedStateMachine {
  @Command() put(): void {}
  @Command('put') set(): void {}
}

function errorOf(f: () => unknown): { name: string; message: string } {
  try {
    f();
  } catch (err) {
    return { name: (err as Error).name, message: (err as Error).message };
  }
  return { name: 'none', message: '' };
}

async function replicas() {
  const network = new MemoryNetwork();
  const voters = ['n1', 'n2', 'n3'];
  const group = voters.map(
    (id) =>
      new Replica({
        id,
        voters,
        machine: new Tally(),
        logStore: new MemoryLogStore(),
        stableStore: new MemoryStableStore(),
        snapshotStore: new MemorySnapshotStore(),
        transport: network.transport(id),
      }),
  );
  const elected = new Promise<Replica<Tally>>((resolve) => {
    for (const r of group) r.node.onRoleChange(({ role }) => role === 'leader' && resolve(r));
  });
  await Promise.all(group.map((r) => r.start()));
  const leader = await elected;
  const results = [await leader.commands.add(2), await leader.commands.add(3)];
  const totals: number[] = [];
  for (const r of group) totals.push(await r.queries.total());
  let rejected = { name: 'none', isRaftlineError: false };
  try {
    await leader.commands.add(1.5);
  } catch (err) {
    rejected = { name: (err as Error).name, isRaftlineError: err instanceof RaftlineError };
  }
  await Promise.all(group.map((r) => r.stop()));
  return { results, totals, rejected };
}

async function sim() {
  const cluster = await SimCluster.create({ nodes: 3, seed: 7, stateMachine: () => new Tally() });
  await cluster.advance(1000);
  const results = [(await cluster.propose({ name: 'add', args: [2] })) as number];
  cluster.crash(cluster.ids[0]!);
  await cluster.advance(2000);
  results.push((await cluster.propose({ name: 'add', args: [3] })) as number);
  cluster.check();
  await cluster.stop();
  return { results, checked: true };
}

async function container() {
  const network = new MemoryNetwork();
  const c = new Container();
  c.loadSync(
    replicaModule({
      id: 'solo',
      voters: ['solo'],
      machine: new Tally(),
      logStore: new MemoryLogStore(),
      stableStore: new MemoryStableStore(),
      transport: network.transport('solo'),
    }),
  );
  const replica = replicaFrom<Tally>(c);
  const elected = new Promise<void>((resolve) => {
    replica.node.onRoleChange(({ role }) => role === 'leader' && resolve());
  });
  await replica.start();
  await elected;
  const result = await replica.commands.add(4);
  await replica.stop();
  return { result, bound: c.isBound(RAFTLINE.Replica) };
}

async function main(): Promise<void> {
  // Types from the other packages, as a user's configuration would name them.
  const natsOptions: Partial<NatsTransportOptions> = {};
  const storeOptions: Partial<PostgresStoresOptions> = {};
  void natsOptions;
  void storeOptions;
  const report = {
    replicas: await replicas(),
    sim: await sim(),
    errors: [errorOf(() => buildDispatchTable(Unnamed)), errorOf(() => buildDispatchTable(Dup))],
    loaded: { natsTransport: typeof NatsTransport, createPostgresStores: typeof createPostgresStores },
    container: await container(),
  };
  console.log(JSON.stringify(report));
}

main().catch((err: unknown) => {
  console.error(err);
  throw err;
});
`;
}
