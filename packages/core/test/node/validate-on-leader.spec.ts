import {
  Command,
  CommandRejectedError,
  MachineHost,
  MemoryLogStore,
  MemoryNetwork,
  MemoryStableStore,
  NotLeaderError,
  ProposalTimeoutError,
  Query,
  RaftNode,
  ReplicatedStateMachine,
  StateMachine,
  Validate,
  seededRandom,
  systemClock,
  type Message,
  type Transport,
} from '../../src/index';
import { FAST } from '../support/nodes';

jest.setTimeout(30_000);

/** Which node ran setFlag's validator, in call order (reset by each cluster). */
let validations: string[] = [];

/** Flags that must name an existing segment: the validator reads state, as services/feature-flags does. */
@StateMachine('segments')
class Segments extends ReplicatedStateMachine {
  private segments: string[] = [];
  private flags: Record<string, string> = {};

  constructor(private readonly node: string) {
    super();
  }

  @Command()
  createSegment(name: string): number {
    this.segments.push(name);
    return this.context.index;
  }

  /** @returns the log index it applied at */
  @Command()
  setFlag(key: string, segment: string): number {
    if (!this.segments.includes(segment)) throw new Error(`unknown segment ${segment}`);
    this.flags[key] = segment;
    return this.context.index;
  }

  @Validate('setFlag')
  protected checkSetFlag(_key: unknown, segment: unknown): string | undefined {
    validations.push(this.node);
    return this.segments.includes(String(segment)) ? undefined : `unknown segment ${String(segment)}`;
  }

  @Query()
  hasSegment(name: string): boolean {
    return this.segments.includes(name);
  }

  @Query()
  flag(key: string): string | undefined {
    return this.flags[key];
  }

  override snapshotState(): unknown {
    return { segments: this.segments, flags: this.flags }; // not `node`: it is local
  }

  override restoreState(state: unknown): void {
    const s = state as { segments: string[]; flags: Record<string, string> };
    this.segments = s.segments;
    this.flags = s.flags;
  }
}

/** A MemoryNetwork whose messages pass a drop rule as they are sent. */
function faultyNetwork() {
  const net = new MemoryNetwork();
  let drop: (m: Message) => boolean = () => false;
  return {
    transport(id: string): Transport {
      const t = net.transport(id);
      return { ...t, send: (messages) => t.send(messages.filter((m) => !drop(m))) };
    },
    setDrop(rule: (m: Message) => boolean): void {
      drop = rule;
    },
  };
}

async function cluster(seed: number) {
  validations = [];
  const ids = ['n1', 'n2', 'n3'];
  const net = faultyNetwork();
  const rng = seededRandom(seed);
  const nodes = new Map(
    ids.map((id) => [
      id,
      new RaftNode({
        id,
        voters: ids,
        logStore: new MemoryLogStore(),
        stableStore: new MemoryStableStore(),
        transport: net.transport(id),
        clock: systemClock,
        random: rng.fork(),
        applier: new MachineHost(new Segments(id)),
        config: FAST,
      }),
    ]),
  );
  await Promise.all([...nodes.values()].map((n) => n.start()));
  const node = (id: string): RaftNode => nodes.get(id)!;
  const stop = () => Promise.all([...nodes.values()].map((n) => n.stop()));
  return { ids, net, node, stop };
}

/** Polls cond every 5 ms, up to 15 s. @throws Error naming what it waited for */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function leaderAmong(
  c: Awaited<ReturnType<typeof cluster>>,
  among: readonly string[],
): Promise<string> {
  let leader: string | undefined;
  await until(() => (leader = among.find((id) => c.node(id).isLeader())) !== undefined, 'a leader');
  return leader!;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (value) => {
      throw new Error(`expected a rejection, got ${String(value)}`);
    },
    (err: unknown) => err,
  );
}

/**
 * A leader elected after its predecessor committed and acknowledged
 * createSegment('blue') but was cut off before any follower learned that it
 * committed: the new leader holds the entry unapplied, and (its followers'
 * acks being dropped) cannot commit its term's no-op until the test says so.
 */
async function newLeaderBehind(seed: number) {
  const c = await cluster(seed);
  const old = await leaderAmong(c, c.ids);
  await until(
    () => c.ids.every((id) => c.node(id).status().leaderId === old),
    'every node to know the leader',
  );
  await c.node(old).propose({ name: 'createSegment', args: ['green'] }); // the old leader is caught up
  const { commitIndex, term } = c.node(old).status();
  // Followers receive blue's entry but never hear that it committed.
  c.net.setDrop(
    (m) => m.from === old && (m.type === 'append' || m.type === 'heartbeat') && m.commit > commitIndex,
  );
  await c.node(old).propose({ name: 'createSegment', args: ['blue'] }); // acknowledged
  // Cut the old leader off, and drop every append ack of a later term: a new leader cannot commit.
  c.net.setDrop((m) => m.from === old || m.to === old || (m.type === 'append-resp' && m.term > term));
  const others = c.ids.filter((id) => id !== old);
  const leader = await leaderAmong(c, others);
  return { ...c, old, leader, follower: others.find((id) => id !== leader)!, term };
}

describe('RaftNode.propose - validation runs on a leader whose state is current', () => {
  it('a follower never validates: it answers NotLeaderError naming the leader', async () => {
    const c = await cluster(11);
    const leader = await leaderAmong(c, c.ids);
    await until(
      () => c.ids.every((id) => c.node(id).status().leaderId === leader),
      'every node to know the leader',
    );
    for (const id of c.ids.filter((x) => x !== leader)) {
      const err = await rejection(c.node(id).propose({ name: 'setFlag', args: ['f', 'no-such-segment'] }));
      expect(err).toBeInstanceOf(NotLeaderError);
      expect((err as NotLeaderError).leaderId).toBe(leader);
    }
    expect(validations).toEqual([]);
    // The leader does validate, and refuses what its current state does not allow.
    await expect(
      c.node(leader).propose({ name: 'setFlag', args: ['f', 'no-such-segment'] }),
    ).rejects.toBeInstanceOf(CommandRejectedError);
    expect(validations).toEqual([leader]);
    await c.stop();
  });

  it('a candidate never validates: it answers NotLeaderError', async () => {
    const c = await cluster(12);
    c.net.setDrop((m) => m.from === 'n3' || m.to === 'n3');
    await until(() => c.node('n3').status().role !== 'follower', 'n3 to campaign');
    const err = await rejection(c.node('n3').propose({ name: 'setFlag', args: ['f', 'blue'] }));
    expect(err).toBeInstanceOf(NotLeaderError);
    expect(validations).not.toContain('n3');
    await c.stop();
  });

  it('a leader that applied its term’s no-op validates and appends the command within the call', async () => {
    const c = await cluster(13);
    const leader = await leaderAmong(c, c.ids);
    await c.node(leader).propose({ name: 'createSegment', args: ['blue'] });
    const before = c.node(leader).status().lastIndex;
    const done = c.node(leader).propose({ name: 'setFlag', args: ['f', 'blue'] });
    expect(validations).toEqual([leader]);
    expect(c.node(leader).status().lastIndex).toBe(before + 1);
    await expect(done).resolves.toBe(before + 1);
    await c.stop();
  });

  it('a new leader validates only once it applied its term’s no-op, and then sees a segment acknowledged before', async () => {
    const c = await newLeaderBehind(21);
    // The window: the new leader's state lacks blue, which the old leader acknowledged.
    expect(c.node(c.leader).queryLocal('hasSegment', ['blue']).value).toBe(false);
    expect(c.node(c.leader).status().appliedOwnTerm).toBe(false);
    const first = c.node(c.leader).propose({ name: 'setFlag', args: ['f', 'blue'] });
    const second = c.node(c.leader).propose({ name: 'setFlag', args: ['g', 'blue'] });
    expect(validations).toEqual([]); // held, not refused from stale state
    c.net.setDrop((m) => m.from === c.old || m.to === c.old); // acks reach the new leader again
    const [at, after] = (await Promise.all([first, second])) as [number, number];
    expect(validations).toEqual([c.leader, c.leader]);
    expect(c.node(c.leader).status().appliedOwnTerm).toBe(true);
    expect(after).toBeGreaterThan(at); // held proposals go on in the order they came
    expect(c.node(c.leader).queryLocal('flag', ['f']).value).toBe('blue');
    await c.stop();
  });

  it('a new leader that stops leading before it caught up answers NotLeaderError, having validated and appended nothing', async () => {
    const c = await newLeaderBehind(22);
    const lastIndex = c.node(c.leader).status().lastIndex;
    const held = c.node(c.leader).propose({ name: 'setFlag', args: ['f', 'blue'] });
    // Nothing from the follower reaches the new leader now: check-quorum makes it step down.
    c.net.setDrop((m) => m.from === c.old || m.to === c.old || m.from === c.follower);
    const err = await rejection(held);
    expect(err).toBeInstanceOf(NotLeaderError);
    expect(validations).toEqual([]);
    expect(c.node(c.leader).status().lastIndex).toBe(lastIndex);
    await c.stop();
  });

  it('a new leader that does not catch up within the timeout answers ProposalTimeoutError, having appended nothing', async () => {
    const c = await newLeaderBehind(23);
    const lastIndex = c.node(c.leader).status().lastIndex;
    const err = await rejection(
      c.node(c.leader).propose({ name: 'setFlag', args: ['f', 'blue'] }, { timeoutMs: 50 }),
    );
    expect(err).toBeInstanceOf(ProposalTimeoutError);
    expect((err as ProposalTimeoutError).timeoutMs).toBe(50);
    expect(validations).toEqual([]);
    expect(c.node(c.leader).status().lastIndex).toBe(lastIndex);
    // Once it catches up, a new proposal goes through; the timed-out one never entered the log.
    c.net.setDrop((m) => m.from === c.old || m.to === c.old);
    await c.node(c.leader).propose({ name: 'setFlag', args: ['g', 'blue'] });
    expect(c.node(c.leader).queryLocal('flag', ['f']).value).toBeUndefined();
    await c.stop();
  });
});
