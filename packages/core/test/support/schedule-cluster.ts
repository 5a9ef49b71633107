import {
  LeadershipTransferError,
  NONE,
  RaftProtocol,
  seededRandom,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type ProtocolConfig,
  type Ready,
} from '../../src/index';
import { InvariantViolation, SafetyChecker, type NodeObservation } from './invariants';
import { PHASES, type Step } from './schedules';

/*
 * Runs a random schedule over pure RaftProtocol nodes exactly as the contract
 * on Ready prescribes (persist only what a Ready cycle wrote; crash anywhere,
 * even between ready() and advance()), checking Raft's safety properties after
 * every step.
 */

/** What a node has made durable: only what its Ready cycles persisted. */
interface Disk {
  hardState: HardState;
  log: Entry[];
}

interface Peer {
  readonly id: NodeId;
  /** undefined while crashed. */
  node: RaftProtocol | undefined;
  readonly disk: Disk;
  incarnation: number;
  /** A Ready being worked through and how many PHASES are done. */
  cycle: { readonly rd: Ready; done: number } | undefined;
}

export const encoder = new TextEncoder();

/**
 * Pure nodes, a message queue, a disk model per node and a SafetyChecker
 * that sees every step. Nothing moves unless a Step says so.
 */
export class Cluster {
  readonly ids: NodeId[];
  readonly peers = new Map<NodeId, Peer>();
  readonly checker = new SafetyChecker();
  /** Sent and not yet delivered, oldest first. */
  queue: Message[] = [];
  /** `${from}->${to}` links that lose every message. */
  readonly cut = new Set<string>();
  private readonly rng: ReturnType<typeof seededRandom>;
  private proposals = 0;
  restarts = 0;

  /** Nodes whose disks are slow: their writes (the 'persist' phase) wait for a 'sync' step. */
  private readonly slow: Set<NodeId>;

  constructor(
    n: number,
    readonly config: Partial<ProtocolConfig>,
    seed: number,
    slowDisks = 0,
  ) {
    this.ids = Array.from({ length: n }, (_, k) => String.fromCharCode(97 + k));
    this.slow = new Set(this.ids.filter((_, k) => ((slowDisks >> k) & 1) === 1));
    this.rng = seededRandom(seed);
    for (const id of this.ids) {
      const disk: Disk = { hardState: { term: 0, vote: NONE, commit: 0 }, log: [] };
      this.peers.set(id, { id, node: this.boot(id, disk), disk, incarnation: 0, cycle: undefined });
    }
  }

  peer(k: number): Peer {
    return this.peers.get(this.ids[k % this.ids.length]!)!;
  }

  live(): Array<Peer & { node: RaftProtocol }> {
    return [...this.peers.values()].filter((p): p is Peer & { node: RaftProtocol } => p.node !== undefined);
  }

  leaders(): RaftProtocol[] {
    return this.live()
      .map((p) => p.node)
      .filter((n) => n.status().role === 'leader');
  }

  /** Applies one step, then checks every invariant. */
  apply(step: Step): void {
    this.exec(step);
    this.check();
  }

  /** Runs a schedule; a violation names the step it followed. */
  run(steps: readonly Step[]): void {
    steps.forEach((step, k) => {
      try {
        this.apply(step);
      } catch (e) {
        if (e instanceof InvariantViolation)
          e.message = `${e.message}\n  after step ${k}: ${JSON.stringify(step)}`;
        throw e;
      }
    });
  }

  check(): void {
    this.checker.check(this.live().map((p) => observe(p)));
  }

  private exec(step: Step): void {
    switch (step.kind) {
      case 'tick':
        this.peer(step.node).node?.tick();
        return;
      case 'deliver':
        this.deliverAt(0);
        return;
      case 'reorder':
        if (this.queue.length > 1) this.deliverAt(1 + (step.pick % (this.queue.length - 1)));
        else this.deliverAt(0);
        return;
      case 'drop':
        if (this.queue.length > 0) this.queue.splice(step.pick % this.queue.length, 1);
        return;
      case 'duplicate': {
        const m = this.queue[step.pick % Math.max(1, this.queue.length)];
        if (m) this.queue.push(m);
        return;
      }
      case 'propose': {
        const leaders = this.leaders();
        const leader = leaders[step.leader % Math.max(1, leaders.length)];
        try {
          leader?.propose(Array.from({ length: step.count }, () => encoder.encode(`p${++this.proposals}`)));
        } catch (e) {
          if (!(e instanceof LeadershipTransferError)) throw e; // refused while a transfer runs
        }
        return;
      }
      case 'transfer': {
        const leaders = this.leaders();
        const leader = leaders[step.leader % Math.max(1, leaders.length)];
        const to = this.ids[step.to]!;
        leader?.transferLeader(to === leader.id ? undefined : to);
        return;
      }
      case 'ready': {
        const busy = this.live().filter((p) => (p.cycle ? !this.awaitsSync(p) : p.node.hasReady()));
        const p = busy[step.node % Math.max(1, busy.length)];
        if (p) this.cycle(p, this.slow.has(p.id) && (p.cycle?.done ?? 0) < 1 ? 1 : step.upTo);
        return;
      }
      case 'sync': {
        const waiting = this.live().filter((p) => this.awaitsSync(p));
        const p = waiting[step.node % Math.max(1, waiting.length)];
        if (p) this.cycle(p, 2);
        return;
      }
      case 'crash': {
        const among = this.live().filter((p) =>
          step.among === 'mid-cycle' ? p.cycle !== undefined : p.node.status().role === 'leader',
        );
        const p =
          step.among !== 'all' && among.length > 0 ? among[step.node % among.length]! : this.peer(step.node);
        this.crash(p);
        if (step.restartNow) this.restart(p);
        return;
      }
      case 'restart': {
        const down = [...this.peers.values()].filter((p) => p.node === undefined);
        const p = down[step.node % Math.max(1, down.length)];
        if (p) this.restart(p);
        return;
      }
      case 'partition':
        this.ids.forEach((a, i) =>
          this.ids.forEach((b, j) => {
            if (((step.mask >> i) & 1) !== ((step.mask >> j) & 1)) this.cut.add(`${a}->${b}`);
          }),
        );
        return;
      case 'heal':
        this.cut.clear();
        return;
      default:
        assertNever(step);
    }
  }

  /**
   * Works through p's Ready, starting one if none is under way, until `upTo`
   * PHASES are done (and at least one more); after the 5th (advance) the
   * cycle is over. Returns whether anything happened.
   */
  cycle(p: Peer, upTo: number): boolean {
    const node = p.node;
    if (!node) return false;
    if (!p.cycle) {
      if (!node.hasReady()) return false;
      p.cycle = { rd: node.ready(), done: 0 };
    }
    const c = p.cycle;
    for (const stop = Math.max(upTo, c.done + 1); c.done < stop; c.done++) {
      switch (PHASES[c.done]) {
        case 'ready() + send leaderMessages': // thesis §10.2.1: may go out before the leader's own write
          for (const m of c.rd.leaderMessages) this.send(m);
          break;
        case 'persist':
          persist(p.disk, c.rd);
          break;
        case 'send messages': // votes and acks promise durability: only after persisting
          for (const m of c.rd.messages) this.send(m);
          break;
        case 'apply':
          this.checker.recordApplied(p.id, p.incarnation, c.rd.committed);
          break;
        case 'advance':
          node.advance(c.rd);
          p.cycle = undefined;
          break;
      }
    }
    return true;
  }

  /** Whether p has a slow disk and its Ready waits for the write to finish. */
  private awaitsSync(p: Peer): boolean {
    return this.slow.has(p.id) && p.cycle?.done === 1;
  }

  /** Volatile state is lost, including a Ready under way: the disk keeps what its persist phase wrote. */
  crash(p: Peer): void {
    p.node = undefined;
    p.cycle = undefined;
  }

  restart(p: Peer): void {
    if (p.node) return;
    p.node = this.boot(p.id, p.disk);
    p.incarnation++;
    this.restarts++;
  }

  private boot(id: NodeId, disk: Disk): RaftProtocol {
    return new RaftProtocol({
      id,
      voters: this.ids,
      config: this.config,
      random: this.rng.fork(),
      hardState: disk.hardState,
      entries: [...disk.log],
      applied: 0, // the state machine is volatile: it replays the committed log
    });
  }

  /** Messages are copied when sent, as a wire would: no object is shared between nodes. */
  private send(m: Message): void {
    this.queue.push(
      m.type === 'append'
        ? { ...m, entries: m.entries.map((e) => ({ ...e, data: e.data.slice() })) }
        : { ...m },
    );
  }

  /** Removes queued message k and hands it to its target, unless the link is cut or the target is down. */
  private deliverAt(k: number): void {
    const [m] = this.queue.splice(k, 1);
    if (!m || this.cut.has(`${m.from}->${m.to}`)) return;
    this.peers.get(m.to)?.node?.step(m);
  }

  // ------------------------------------------------ fault-free operation

  /** Ends every fault: heals the network, restarts crashed nodes, finishes Readies under way. */
  healAll(): void {
    this.cut.clear();
    for (const p of this.peers.values()) {
      this.restart(p);
      this.cycle(p, 5);
    }
    this.check();
  }

  /** Runs Ready cycles and delivers everything, oldest first, until quiet. */
  settle(): void {
    for (let round = 0; ; round++) {
      if (round > 1000) throw new Error('the network does not settle');
      for (const p of this.peers.values()) while (this.cycle(p, 5)) this.check();
      if (this.queue.length === 0) return;
      while (this.queue.length > 0) this.apply({ kind: 'deliver' });
    }
  }
}

/** Writes a Ready's hard state and entries; entries from entries[0].index on replace the stored suffix. */
function persist(disk: Disk, rd: Ready): void {
  if (rd.hardState) disk.hardState = rd.hardState;
  const first = rd.entries[0];
  if (!first) return;
  const last = disk.log[disk.log.length - 1]?.index ?? 0;
  if (first.index > last + 1)
    throw new Error(`Ready entries start at ${first.index}, after a gap (stored last ${last})`);
  disk.log = disk.log.filter((e) => e.index < first.index).concat(rd.entries);
}

function observe(p: Peer & { node: RaftProtocol }): NodeObservation {
  const s = p.node.status();
  return {
    id: p.id,
    incarnation: p.incarnation,
    role: s.role,
    term: s.term,
    commitIndex: s.commitIndex,
    appliedIndex: s.appliedIndex,
    entries: p.node.log.slice(p.node.log.firstIndex(), p.node.log.lastIndex()),
  };
}

function assertNever(x: never): never {
  throw new Error(`unhandled step ${JSON.stringify(x)}`);
}

// --------------------------------------------------------------- liveness

/**
 * After faults end: ticks every node once per round and lets the network
 * settle, proposing on each new leader, until one proposal is committed and
 * applied on every node. Returns the rounds it took.
 * @throws Error when that does not happen within maxRounds
 */
export function runUntilCommitted(cluster: Cluster, maxRounds: number): number {
  let target: { index: number; term: number } | undefined;
  for (let round = 1; round <= maxRounds; round++) {
    for (const p of cluster.live()) p.node.tick();
    cluster.settle();
    const leader = cluster.leaders().sort((a, b) => b.status().term - a.status().term)[0];
    // A leader still transferring leadership refuses proposals: ask again next round.
    if (leader && leader.status().term !== target?.term && leader.status().leadTransferee === NONE) {
      const proposed = leader.propose([encoder.encode(`live-${round}`)]);
      target = { index: proposed.firstIndex, term: proposed.term };
      cluster.settle();
    }
    const t = target;
    const done =
      t !== undefined &&
      cluster.live().length === cluster.ids.length &&
      cluster
        .live()
        .every((p) => p.node.status().appliedIndex >= t.index && p.node.log.term(t.index) === t.term);
    if (done) return round;
  }
  throw new Error(`no proposal committed on every node within ${maxRounds} fault-free rounds`);
}
