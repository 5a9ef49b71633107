import { DivergedError } from '@raftline/core';
import { NatsRaftClient } from '../src/index';
import { startAdminGroup, useAdminGroup } from './support/admin';
import { waitFor } from './support/nats-server';

jest.setTimeout(60_000);

describe('admin API - verify compares every replica’s digest at one marker', () => {
  const g = useAdminGroup('ver');

  it('reports one digest on every replica when they agree, and names the replica whose state was changed behind the log', async () => {
    g.replicas = await startAdminGroup(g.at, ['n1', 'n2', 'n3']);
    const leader = await g.leaderOf();
    for (let i = 0; i < 8; i++) await leader.node.propose({ name: 'inc', args: [`k${i % 3}`] });

    const ok = await g.admin.verify();
    expect(ok.leaderId).toBe(leader.id);
    expect(ok).toMatchObject({ agree: true, disagreeing: [], missing: [] });
    expect(ok.replicas.map((r) => r.node)).toEqual(['n1', 'n2', 'n3']);
    for (const r of ok.replicas) expect(r).toEqual({ node: r.node, digest: ok.digest, matches: true });
    expect(ok.digest).toBe(await leader.node.digestAt(ok.index));
    const s = await g.admin.status();
    for (const r of s.replicas) {
      expect(r).toMatchObject({ reachable: true, status: { verification: { lastIndex: ok.index } } });
    }

    // A follower's state changes without a command: the next marker shows it, and only it.
    const odd = g.replicas.find((r) => r !== leader)!;
    odd.applier.counts.set('k0', 1000);
    const bad = await g.admin.verify();
    expect(bad.index).toBeGreaterThan(ok.index);
    expect(bad).toMatchObject({ agree: false, disagreeing: [odd.id], missing: [] });
    expect(bad.digest).toBe(await leader.node.digestAt(bad.index)); // two of three hold the leader's
    const oddAnswer = bad.replicas.find((r) => r.node === odd.id)!;
    expect(oddAnswer).toMatchObject({ matches: false });
    expect((oddAnswer as { digest: string }).digest).not.toBe(bad.digest);

    // The leader's report made the odd replica find its divergence itself: status shows it, and it stops applying.
    await waitFor('the divergence to show', () => odd.node.status().verification.diverged !== undefined);
    const after = await g.admin.status();
    const reported = after.replicas.find((r) => r.node === odd.id)!;
    expect(reported).toMatchObject({
      reachable: true,
      status: {
        verification: { diverged: { index: bad.index, leaderId: leader.id }, stoppedApplying: true },
      },
    });

    // A later verify cannot get its digest (it stopped applying): it is missing, not a disagreement.
    const later = await g.admin.verify({ timeoutMs: 3000 });
    expect(later).toMatchObject({ agree: false, disagreeing: [], missing: [odd.id] });
    const why = later.replicas.find((r) => r.node === odd.id) as { reason: string };
    expect(why.reason).toContain(new DivergedError(odd.id, bad.index, 'x', 'y').message.split(' (')[0]);

    // Clients: a read that lands on the diverged replica is asked again elsewhere; asked of it by name, it is refused.
    const client = new NatsRaftClient({ ...g.at, retries: 10 });
    try {
      for (let i = 0; i < 12; i++) {
        const r = await client.query({ name: 'count', args: ['k1'] }, { consistency: 'stale' });
        expect(r.replica).not.toBe(odd.id);
      }
      const refused = client.query(
        { name: 'count', args: ['k1'] },
        { replica: odd.id, consistency: 'stale' },
      );
      await expect(refused).rejects.toMatchObject({ remoteName: 'DivergedError' });
    } finally {
      client.close();
    }
  });
});
