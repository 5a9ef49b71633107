import {
  LeadershipTransferError,
  MemoryLogStore,
  MemoryNetwork,
  MemoryStableStore,
  NotLeaderError,
  RaftNode,
  ReadNotConfirmedError,
  seededRandom,
  type Applier,
  type Cancel,
  type Clock,
  type CommandEnvelope,
  type Message,
  type NodeId,
  type QueryResult,
  type Role,
  type Transport,
} from '../../src/index';

jest.setTimeout(15_000);

/**
 * A MemoryNetwork that can cut nodes off: a message from or to an isolated
 * node, or one `drop` picks, is lost, both when it is sent and when it would
 * be delivered. Records every message sent.
 */
class CuttableNetwork {
  private readonly inner = new MemoryNetwork();
  readonly isolated = new Set<NodeId>();
  drop: (m: Message) => boolean = () => false;
  readonly sent: Message[] = [];

  transport(id: NodeId): Transport {
    const t = this.inner.transport(id);
    const lost = (m: Message): boolean =>
      this.isolated.has(m.from) || this.isolated.has(m.to) || this.drop(m);
    return {
      send: (messages) => {
        this.sent.push(...messages);
        t.send(messages.filter((m) => !lost(m)));
      },
      listen: (handler) => t.listen((m) => lost(m) || handler(m)),
      close: () => t.close(),
    };
  }
}

/**
 * The system clock for one node, whose timers can be held as SIGSTOP holds
 * a process's: while paused, a timer that comes due waits; on resume the
 * held timers fire after what is handled at once (as a woken process reads
 * its sockets before its timers run), and now() never stopped.
 */
class PausableClock implements Clock {
  private paused = false;
  private held: (() => void)[] = [];
  now(): number {
    return Date.now();
  }
  setTimeout(fn: () => void, ms: number): Cancel {
    let cancelled = false;
    const t = setTimeout(() => {
      if (cancelled) return;
      if (this.paused) this.held.push(() => cancelled || fn());
      else fn();
    }, ms);
    return () => {
      cancelled = true;
      clearTimeout(t);
    };
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
    const held = this.held.splice(0);
    setImmediate(() => held.forEach((f) => f()));
  }
}

/** A key-value register; records every role change this replica reports. */
class Register implements Applier {
  readonly values = new Map<string, unknown>();
  readonly roles: { role: Role; term: number }[] = [];
  validate(): void {}
  apply(c: CommandEnvelope) {
    this.values.set(String(c.args[0]), c.args[1]);
    return { ok: true as const, value: c.args[1] };
  }
  query(_name: string, args: readonly unknown[]): unknown {
    return this.values.get(String(args[0]));
  }
  snapshot(): Uint8Array {
    return new Uint8Array();
  }
  restore(): void {}
  onRoleChange(role: Role, _leaderId: NodeId, term: number): void {
    this.roles.push({ role, term });
  }
}

interface Replica {
  readonly id: NodeId;
  readonly node: RaftNode;
  readonly register: Register;
  readonly clock: PausableClock;
}

const IDS = ['a', 'b', 'c'];
let running: Replica[] = [];

afterEach(async () => {
  await Promise.all(running.map((r) => r.node.stop()));
  running = [];
});

async function cluster(seed = 7): Promise<{ net: CuttableNetwork; replicas: Replica[] }> {
  const net = new CuttableNetwork();
  const rng = seededRandom(seed);
  const replicas = IDS.map((id): Replica => {
    const register = new Register();
    const clock = new PausableClock();
    const node = new RaftNode({
      id,
      voters: IDS,
      logStore: new MemoryLogStore(),
      stableStore: new MemoryStableStore(),
      transport: net.transport(id),
      clock,
      random: rng.fork(),
      applier: register,
      config: {
        electionTimeoutMs: 60,
        heartbeatMs: 15,
        tickMs: 5,
        proposalTimeoutMs: 2000,
        leaseReads: true,
      },
    });
    return { id, node, register, clock };
  });
  running = replicas;
  await Promise.all(replicas.map((r) => r.node.start()));
  return { net, replicas };
}

/** Polls (bounded, not timed) until `pick` returns a value. */
async function eventually<T>(pick: () => T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 1000; i++) {
    const v = pick();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`never: ${what}`);
}

/** The one replica (among `among`) that leads, once exactly one does. */
function leaderAmong(among: readonly Replica[]): Promise<Replica> {
  return eventually(() => {
    const leaders = among.filter((r) => r.node.isLeader());
    return leaders.length === 1 ? leaders[0] : undefined;
  }, 'a single leader');
}

const set = (key: string, value: unknown) => ({ name: 'set', args: [key, value] });
/** Longer than any test: a read that rejects did so because it could not be confirmed, not by timing out. */
const NO_TIMEOUT = 60_000;

describe('RaftNode - query consistency', () => {
  it('linearizable reads on the leader and on a follower return the latest committed write', async () => {
    const { replicas } = await cluster();
    const leader = await leaderAmong(replicas);
    const follower = replicas.find((r) => r !== leader)!;
    await leader.node.propose(set('x', 1));
    await leader.node.propose(set('x', 2));
    const writeIndex = leader.node.status().commitIndex;
    for (const r of [leader, follower]) {
      const res = await r.node.query('get', ['x'], { consistency: 'linearizable' });
      expect(res.value).toBe(2);
      expect(res.appliedIndex).toBeGreaterThanOrEqual(writeIndex);
    }
  });

  it("'lease' reads return the latest committed write on the leader and on a follower", async () => {
    const { replicas } = await cluster();
    const leader = await leaderAmong(replicas);
    await leader.node.propose(set('x', 'v'));
    for (const r of replicas) {
      await expect(r.node.query('get', ['x'], { consistency: 'lease' })).resolves.toMatchObject({
        value: 'v',
      });
    }
  });

  it("'stale' reads local state at once with its applied index, even with the replica cut off", async () => {
    const { net, replicas } = await cluster();
    const leader = await leaderAmong(replicas);
    const cut = replicas.find((r) => r !== leader)!;
    await leader.node.propose(set('x', 1));
    await eventually(
      () => (cut.register.values.get('x') === 1 ? true : undefined),
      'x applied on the follower',
    );
    net.isolated.add(cut.id);
    await leader.node.propose(set('x', 2));
    const appliedIndex = cut.node.status().appliedIndex;
    const stale = cut.node.query('get', ['x'], { consistency: 'stale' });
    await expect(stale).resolves.toEqual({ value: 1, appliedIndex }); // stale, and says where it read
    const linearizable = cut.node.query('get', ['x'], { timeoutMs: NO_TIMEOUT });
    await expect(linearizable).rejects.toBeInstanceOf(ReadNotConfirmedError);
  });

  it('a linearizable read on a follower waits until the follower has applied the read index', async () => {
    const { net, replicas } = await cluster();
    const leader = await leaderAmong(replicas);
    const slow = replicas.find((r) => r !== leader)!;
    await leader.node.propose(set('x', 1));
    await eventually(
      () => (slow.register.values.get('x') === 1 ? true : undefined),
      'x applied on the follower',
    );
    net.drop = (m) => m.type === 'append' && m.to === slow.id; // heartbeats and reads still pass
    await leader.node.propose(set('x', 2));
    const answers: unknown[] = [];
    const read = slow.node.query('get', ['x'], { timeoutMs: NO_TIMEOUT });
    void read.then((r) => answers.push(r.value));
    await eventually(
      () => (net.sent.some((m) => m.type === 'read-index-resp' && m.to === slow.id) ? true : undefined),
      'the read index confirmed',
    );
    await new Promise((r) => setTimeout(r, 50)); // let the confirmation land; the entry still cannot
    expect(answers).toEqual([]);
    net.drop = () => false;
    await expect(read).resolves.toMatchObject({ value: 2 });
  });

  it('an isolated old leader never returns stale data: its reads reject with ReadNotConfirmedError', async () => {
    const { net, replicas } = await cluster();
    const old = await leaderAmong(replicas);
    await old.node.propose(set('x', 1));
    const oldTerm = old.node.status().term;
    net.isolated.add(old.id);
    const answers: QueryResult[] = [];
    const record = (p: Promise<QueryResult>) => p.then((r) => (answers.push(r), r));
    const early = record(old.node.query('get', ['x'], { timeoutMs: NO_TIMEOUT }));
    early.catch(() => {}); // awaited below; rejecting meanwhile is not an unhandled rejection
    const rest = replicas.filter((r) => r !== old);
    const next = await leaderAmong(rest);
    await next.node.propose(set('x', 2));
    await expect(early).rejects.toBeInstanceOf(ReadNotConfirmedError);
    for (const consistency of ['linearizable', 'lease'] as const) {
      const late = record(old.node.query('get', ['x'], { consistency, timeoutMs: NO_TIMEOUT }));
      await expect(late).rejects.toBeInstanceOf(ReadNotConfirmedError);
    }
    expect(answers).toEqual([]);
    expect(next.node.status().term).toBeGreaterThan(oldTerm);
    expect(old.register.values.get('x')).toBe(1); // it holds stale state, and served none of it
  });
});

describe('RaftNode - a leader that did not run', () => {
  it('a leader paused past the election timeout serves no stale lease read on waking, even before its timers run', async () => {
    const { net, replicas } = await cluster();
    const old = await leaderAmong(replicas);
    await old.node.propose(set('x', 1));
    await expect(old.node.query('get', ['x'], { consistency: 'lease' })).resolves.toMatchObject({ value: 1 });
    // SIGSTOP, as far as the node can tell: no timer fires, nothing arrives, nothing leaves.
    old.clock.pause();
    net.isolated.add(old.id);
    const next = await leaderAmong(replicas.filter((r) => r !== old));
    await next.node.propose(set('x', 2));
    // SIGCONT: the first thing it handles is a lease read, before any of its timers fire.
    net.isolated.delete(old.id);
    old.clock.resume();
    const read = old.node.query('get', ['x'], { consistency: 'lease', timeoutMs: NO_TIMEOUT });
    const outcome = await read.then(
      (r) => r.value,
      (err: unknown) => err,
    );
    if (outcome instanceof Error) expect(outcome).toBeInstanceOf(ReadNotConfirmedError);
    else expect(outcome).toBe(2);
  });
});

describe('RaftNode - leadership transfer', () => {
  it('transferLeadership(to) makes the target the leader of the next term', async () => {
    const { replicas } = await cluster();
    const leader = await leaderAmong(replicas);
    const target = replicas.find((r) => r !== leader)!;
    const term = leader.node.status().term;
    await expect(leader.node.transferLeadership(target.id)).resolves.toBe(target.id);
    expect(target.node.isLeader()).toBe(true);
    expect(target.node.status().term).toBe(term + 1);
    await target.node.propose(set('after', true));
    await expect(target.node.query('get', ['after'])).resolves.toMatchObject({ value: true });
  });

  it('transferLeadership on a follower rejects with NotLeaderError', async () => {
    const { replicas } = await cluster();
    const leader = await leaderAmong(replicas);
    const follower = replicas.find((r) => r !== leader)!;
    await expect(follower.node.transferLeadership(leader.id)).rejects.toBeInstanceOf(NotLeaderError);
  });

  it('proposals made during a transfer are not lost: each applies or rejects with NotLeaderError naming the new leader', async () => {
    const { replicas } = await cluster();
    const leader = await leaderAmong(replicas);
    const target = replicas.find((r) => r !== leader)!;
    const transfer = leader.node.transferLeadership(target.id);
    const proposals = [1, 2, 3].map((k) => leader.node.propose(set(`k${k}`, k)));
    await expect(transfer).resolves.toBe(target.id);
    const outcomes = await Promise.allSettled(proposals);
    for (const [k, o] of outcomes.entries()) {
      if (o.status === 'fulfilled') {
        await expect(target.node.query('get', [`k${k + 1}`])).resolves.toMatchObject({ value: k + 1 });
      } else {
        expect(o.reason).toBeInstanceOf(NotLeaderError);
        expect(o.reason).toMatchObject({ leaderId: target.id });
        await target.node.propose(set(`k${k + 1}`, k + 1)); // the client retries where it was told
      }
    }
    const all = await target.node.query('get', ['k3']);
    expect(all.value).toBe(3);
  });

  it('a transfer to an unreachable node fails with LeadershipTransferError; proposals held meanwhile apply on the old leader', async () => {
    const { net, replicas } = await cluster();
    const leader = await leaderAmong(replicas);
    const target = replicas.find((r) => r !== leader)!;
    net.isolated.add(target.id);
    const transfer = leader.node.transferLeadership(target.id);
    const held = leader.node.propose(set('held', true));
    await expect(transfer).rejects.toBeInstanceOf(LeadershipTransferError);
    await expect(held).resolves.toBe(true);
    expect(leader.node.isLeader()).toBe(true);
  });

  it('stop({transferLeadership: true}) leaves a leader of exactly the next term, with no election timeout in between', async () => {
    const { net, replicas } = await cluster();
    const old = await leaderAmong(replicas);
    const rest = replicas.filter((r) => r !== old);
    const term = old.node.status().term;
    // Every follower has seen the first election (its role change at this term is recorded) before the mark.
    await eventually(
      () =>
        rest.every((r) => r.register.roles.at(-1)?.term === term && r.node.status().leaderId === old.id) ||
        undefined,
      'every follower following the leader',
    );
    const mark = net.sent.length;
    const roleMarks = rest.map((r) => r.register.roles.length);
    await old.node.stop({ transferLeadership: true });
    // A leader exists as soon as stop() returns: nobody waited for a timeout to elect it.
    const leaders = rest.filter((r) => r.node.isLeader());
    expect(leaders).toHaveLength(1);
    expect(leaders[0]!.node.status().term).toBe(term + 1);
    const since = net.sent.slice(mark);
    expect(since.filter((m) => m.type === 'timeout-now')).toHaveLength(1);
    expect(since.filter((m) => m.type === 'pre-vote')).toEqual([]);
    rest.forEach((r, k) => {
      const changes = r.register.roles.slice(roleMarks[k]);
      expect(changes.map((c) => c.role)).not.toContain('pre-candidate');
      for (const c of changes) expect(c.term).toBe(term + 1);
    });
  });
});
