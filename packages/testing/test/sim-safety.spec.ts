import {
  MemoryLogStore,
  MemoryStableStore,
  OnRoleChange,
  StateMachine,
  encodeCommand,
  type Entry,
  type NodeId,
} from '@raftline/core';
import { KvMachine, SafetyViolationError, SimCluster } from '../src/index';
import { SafetyMonitor } from '../src/sim/safety';

jest.setTimeout(30_000);

/** A cluster that committed a few commands, all applied everywhere, with n3 crashed. */
async function settled(): Promise<SimCluster> {
  const c = await SimCluster.create({ nodes: 3, seed: 5 });
  await c.waitForLeader();
  for (const v of ['a', 'b', 'c']) await c.propose({ name: 'put', args: ['k', v] });
  await c.advance(300);
  c.check();
  if (c.leader() === 'n3') {
    c.disconnect('n3');
    await c.waitForLeader(2000, ['n1', 'n2']);
    c.connect('n3');
    await c.advance(500);
  }
  c.crash('n3');
  return c;
}

function durable(c: SimCluster, id: NodeId): Entry[] {
  const { log } = c.stores(id);
  return log.entriesSync(1, log.lastIndexSync() + 1);
}

const evil = (time: number) => encodeCommand({ name: 'put', args: ['k', 'evil'], time });

function violation(run: () => void): SafetyViolationError {
  try {
    run();
  } catch (err) {
    if (err instanceof SafetyViolationError) return err;
    throw err;
  }
  throw new Error('expected a SafetyViolationError');
}

describe('SimCluster.check - it can fail (a checker that cannot fail is a defect)', () => {
  it('names log matching when two nodes hold different entries at one (index, term)', async () => {
    const c = await settled();
    const log = durable(c, 'n3');
    const at = log.findIndex((e) => e.type === 'normal');
    c.stores('n3').log.appendSync([{ ...log[at]!, data: evil(0) }, ...log.slice(at + 1)]);
    const err = violation(() => c.check());
    expect(err.property).toBe('log matching');
    expect(err.message).toMatch(/^log matching violated: n\d and n3 hold different entries at \d+@t\d+/);
    expect(err.name).toBe('SafetyViolationError');
    await c.stop();
  });

  it('names state-machine safety when a node replaces an entry it committed', async () => {
    const c = await settled();
    const { log, stable } = c.stores('n3');
    const hs = stable.loadSync()!;
    const last = durable(c, 'n3').at(-1)!;
    expect(hs.commit).toBe(last.index);
    await stable.save({ ...hs, term: hs.term + 1 });
    log.appendSync([{ index: last.index, term: hs.term + 1, type: 'normal', data: evil(0) }]);
    const err = violation(() => c.check());
    expect(err.property).toBe('state-machine safety');
    expect(err.message).toMatch(/n3 (replaced its committed entry \d+@t\d+|committed \d+@t\d+)/);
    await c.stop();
  });

  it('names state-machine safety when a restarted node applies a different command at an index', async () => {
    const c = await settled();
    const log = durable(c, 'n3');
    const at = log.findIndex((e) => e.type === 'normal');
    c.stores('n3').log.appendSync([{ ...log[at]!, data: evil(0) }, ...log.slice(at + 1)]);
    await c.restart('n3');
    const err = violation(() => c.check());
    expect(err.property).toBe('state-machine safety');
    expect(err.message).toMatch(
      /n3 applied put\("k","a"\) at index \d+, then put\("k","evil"\) there after a restart/,
    );
    await c.stop();
  });

  it('names durable commit when a commit index points past the durable log', async () => {
    const c = await settled();
    const { stable } = c.stores('n3');
    const hs = stable.loadSync()!;
    await stable.save({ ...hs, commit: hs.commit + 5 });
    expect(violation(() => c.check()).property).toBe('durable commit');
    await c.stop();
  });

  it('names log shape for an entry from a term the node never reached', async () => {
    const c = await settled();
    const last = durable(c, 'n3').at(-1)!;
    c.stores('n3').log.appendSync([
      { index: last.index + 1, term: last.term + 7, type: 'noop', data: new Uint8Array() },
    ]);
    expect(violation(() => c.check()).property).toBe('log shape');
    await c.stop();
  });

  it('names node health when a node fails internally', async () => {
    @StateMachine('fragile-kv')
    class Fragile extends KvMachine {
      @OnRoleChange()
      protected explode(): void {
        throw new Error('boom');
      }
    }
    const c = await SimCluster.create({ nodes: 3, seed: 1, stateMachine: () => new Fragile() });
    await c.advance(1000);
    const err = violation(() => c.check());
    expect(err.property).toBe('node health');
    expect(err.message).toMatch(/boom/);
    // It keeps reporting the first violation.
    expect(violation(() => c.check())).toBe(err);
    await c.stop();
  });
});

describe('SafetyMonitor - the properties no scripted cluster breaks', () => {
  function node(id: NodeId, terms: number[], term: number, commit: number) {
    const log = new MemoryLogStore();
    log.appendSync(
      terms.map((t, k) => ({ index: k + 1, term: t, type: 'normal' as const, data: new Uint8Array([k, t]) })),
    );
    const stable = new MemoryStableStore();
    void stable.save({ term, vote: '', commit });
    return { id, log, stable };
  }

  it('names election safety for two leaders of one term, even if seen at different times', () => {
    const m = new SafetyMonitor();
    const a = node('a', [1], 2, 0);
    m.check([{ ...a, live: { role: 'leader', term: 2 } }]);
    const b = node('b', [1], 2, 0);
    const err = violation(() => m.check([a, { ...b, live: { role: 'leader', term: 2 } }]));
    expect(err.property).toBe('election safety');
    expect(err.message).toBe('election safety violated: term 2 has two leaders: a and b');
  });

  it('names leader completeness for a leader missing a committed entry', () => {
    const m = new SafetyMonitor();
    m.check([node('a', [1, 1, 2], 2, 3), node('b', [1, 1, 2], 2, 3)]);
    // c never got 3@t2, yet leads term 3.
    m.leaderElected('c', 3, node('c', [1, 1], 3, 2).log);
    const err = violation(() => m.check([]));
    expect(err.property).toBe('leader completeness');
    expect(err.message).toMatch(/3@t2 was committed .* but leader c of term 3 holds nothing at 3/);
  });

  it('accepts a leader of an earlier term missing a later commit, and a lagging follower', () => {
    const m = new SafetyMonitor();
    m.check([node('a', [1, 1, 2], 2, 3)]);
    expect(() => m.check([{ ...node('b', [1], 2, 1), live: { role: 'follower', term: 2 } }])).not.toThrow();
    m.leaderElected('c', 1, node('c', [1, 1], 1, 1).log);
    expect(() => m.check([])).not.toThrow();
  });
});

describe('SafetyMonitor - compacted logs and snapshots', () => {
  /** A node whose log holds terms[k] at index from + k, behind an optional snapshot. */
  function node(
    id: NodeId,
    from: number,
    terms: number[],
    hs: { term: number; commit: number },
    snapshot?: { index: number; term: number; digest?: string; config?: string },
  ) {
    const log = new MemoryLogStore();
    if (from > 1) void log.compactPrefix(from - 1);
    log.appendSync(
      terms.map((t, k) => ({
        index: from + k,
        term: t,
        type: 'normal' as const,
        data: new Uint8Array([from + k, t]),
      })),
    );
    const stable = new MemoryStableStore();
    void stable.save({ term: hs.term, vote: '', commit: hs.commit });
    const snap = snapshot && { digest: 'd', config: 'voters a,b,c', ...snapshot };
    return { id, log, stable, ...(snap ? { snapshot: snap } : {}) };
  }

  it('accepts logs that start behind a snapshot, and a leader whose snapshot covers a commit', () => {
    const m = new SafetyMonitor();
    const a = node('a', 1, [1, 1, 2, 2, 2], { term: 2, commit: 5 });
    const b = node('b', 4, [2, 2], { term: 2, commit: 5 }, { index: 3, term: 2 });
    m.check([a, b]);
    const c = node('c', 6, [], { term: 3, commit: 5 }, { index: 5, term: 2 }); // installed a snapshot
    expect(() => m.check([a, b, { ...c, live: { role: 'leader', term: 3 } }])).not.toThrow();
    m.leaderElected('c', 3, c.log, c.snapshot);
    expect(() => m.check([])).not.toThrow();
  });

  it('names log shape when entries were compacted that no snapshot covers', () => {
    const m = new SafetyMonitor();
    const err = violation(() => m.check([node('a', 6, [2], { term: 2, commit: 6 }, { index: 3, term: 1 })]));
    expect(err.property).toBe('log shape');
    expect(err.message).toMatch(
      /a's log starts at 6 but its snapshot covers only up to 3: entries 4..5 are gone/,
    );
  });

  it('names state-machine safety for a snapshot ending at an entry other than the one committed there', () => {
    const m = new SafetyMonitor();
    m.check([node('a', 1, [1, 1, 2], { term: 2, commit: 3 })]);
    const err = violation(() => m.check([node('b', 4, [], { term: 3, commit: 3 }, { index: 3, term: 1 })]));
    expect(err.property).toBe('state-machine safety');
    expect(err.message).toMatch(/a committed 3@t2 but b committed a snapshot ending at 3@t1/);
  });

  it('names state-machine safety for two different snapshots ending at one index', () => {
    const m = new SafetyMonitor();
    const a = node('a', 4, [], { term: 2, commit: 3 }, { index: 3, term: 2 });
    const b = node('b', 4, [], { term: 2, commit: 3 }, { index: 3, term: 2, config: 'voters a,b' });
    const err = violation(() => m.check([a, b]));
    expect(err.property).toBe('state-machine safety');
    expect(err.message).toMatch(
      /a and b hold different snapshots ending at index 3 \(configurations voters a,b,c vs voters a,b\)/,
    );
    const c = node('c', 4, [], { term: 2, commit: 3 }, { index: 3, term: 2, digest: 'other' });
    expect(violation(() => new SafetyMonitor().check([a, c])).message).toMatch(/state machines differ/);
  });

  it('names leader completeness for a leader missing a committed entry after its snapshot', () => {
    const m = new SafetyMonitor();
    m.check([node('a', 1, [1, 1, 2, 2], { term: 2, commit: 4 })]);
    const c = node('c', 3, [], { term: 3, commit: 2 }, { index: 2, term: 1 });
    const err = violation(() => m.check([{ ...c, live: { role: 'leader', term: 3 } }]));
    expect(err.property).toBe('leader completeness');
    expect(err.message).toMatch(/3@t2 was committed .* but leader c of term 3 holds nothing at 3/);
  });
});
