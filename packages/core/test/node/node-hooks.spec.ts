import { MemoryLogStore, MemoryNetwork, type Role } from '../../src/index';
import { kvNode, until } from '../support/nodes';

/** A single-node cluster (it elects itself) with a snapshot every snapshotEntries entries, none kept behind. */
function single(snapshotEntries = 0, log = new MemoryLogStore()) {
  const { node } = kvNode('solo', {
    voters: ['solo'],
    transport: new MemoryNetwork().transport('solo'),
    seed: 1,
    logStore: log,
    config: { electionTimeoutMs: 30, heartbeatMs: 10, snapshotEntries, snapshotTrailingEntries: 0 },
  });
  return { node, log };
}

describe('RaftNode - hooks for integrations', () => {
  it('reports role changes to listeners, and is no leader once stopped', async () => {
    const { node } = single();
    const roles: Role[] = [];
    const off = node.onRoleChange((c) => roles.push(c.role));
    await node.start();
    await until(() => node.isLeader(), 'leadership');
    expect(roles).toContain('leader');
    off();
    await node.stop();
    expect(node.isLeader()).toBe(false);
  });

  it('ends a committed() iteration when its signal aborts', async () => {
    const { node } = single();
    await node.start();
    try {
      await until(() => node.isLeader(), 'leadership');
      await node.propose({ name: 'put', args: ['a', '1'] });
      const ac = new AbortController();
      const seen: number[] = [];
      const done = (async () => {
        for await (const e of node.committed({ signal: ac.signal })) seen.push(e.index);
      })();
      await until(() => seen.length === 1, 'the first event');
      ac.abort(); // the iterator waits for index 3, which never comes
      await done;
      expect(seen).toEqual([2]);
    } finally {
      await node.stop();
    }
  });

  it('keeps the log from the retention floor on when compacting', async () => {
    const { node, log } = single(10);
    await node.start();
    try {
      await until(() => node.isLeader(), 'leadership');
      node.retainFrom(5);
      for (let i = 0; i < 40; i++) await node.propose({ name: 'put', args: ['k', String(i)] });
      await until(() => node.status().snapshotIndex >= 30, 'a snapshot');
      expect(await log.firstIndex()).toBe(5);
      node.retainFrom(0);
      await node.propose({ name: 'put', args: ['k', 'last'] });
      await until(() => node.status().appliedIndex >= 42, 'apply');
      await node.propose({ name: 'put', args: ['k', 'again'] }); // a later Ready runs the now-allowed compaction
      expect(await log.firstIndex()).toBeGreaterThan(5);
    } finally {
      await node.stop();
    }
  });
});

describe('RaftNode - log compaction failures', () => {
  it('retries a failed store compaction until the store is compacted', async () => {
    class FlakyLog extends MemoryLogStore {
      failures = 1;
      override async compactPrefix(upTo: number): Promise<void> {
        if (this.failures-- > 0) throw new Error('database went away');
        return super.compactPrefix(upTo);
      }
    }
    const log = new FlakyLog();
    const { node } = single(10, log);
    await node.start();
    try {
      await until(() => node.isLeader(), 'leadership');
      for (let i = 0; i < 15; i++) await node.propose({ name: 'put', args: ['k', String(i)] });
      await until(() => node.status().snapshotIndex >= 10, 'a snapshot');
      await until(() => log.failures < 0, 'the retry');
      expect(await log.firstIndex()).toBeGreaterThan(1);
      expect(node.status().storageError).toBeUndefined();
    } finally {
      await node.stop();
    }
  });
});
