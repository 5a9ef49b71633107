import { NotLeaderError, type NodeId } from '@raftline/core';
import {
  AdminRefusedError,
  DROP_REASONS,
  REPLICA_SERVICE_VERSION,
  type GroupStatus,
  type ReplicaReport,
} from '../src/index';
import { startAdminGroup, startAdminReplica, useAdminGroup, type AdminReplica } from './support/admin';
import { sleep, waitFor } from './support/nats-server';

jest.setTimeout(60_000);

describe('admin API - status, membership, transfer and snapshots of in-process replicas over NATS', () => {
  const g = useAdminGroup('adm');
  const byId = (id: NodeId): AdminReplica => g.replicas.find((r) => r.id === id)!;
  const report = (s: GroupStatus, id: NodeId): ReplicaReport => s.replicas.find((r) => r.node === id)!;
  /** Polls status() until cond holds for it (5 s at most). */
  const statusUntil = async (what: string, cond: (s: GroupStatus) => boolean): Promise<GroupStatus> => {
    const deadline = Date.now() + 5000;
    for (;;) {
      const s = await g.admin.status();
      if (cond(s)) return s;
      if (Date.now() > deadline) throw new Error(`status never showed ${what}: ${JSON.stringify(s)}`);
      await sleep(50);
    }
  };
  const propose = async (n: number, prefix: string): Promise<void> => {
    const leader = await g.leaderOf();
    for (let i = 0; i < n; i++) await leader.node.propose({ name: 'inc', args: [`${prefix}${i}`] });
  };

  it('status reports every replica from its own admin subject, with lag in entries and ms behind the leader, and a stopped replica as unreachable', async () => {
    g.replicas = await startAdminGroup(g.at, ['n1', 'n2', 'n3']);
    const leader = await g.leaderOf();
    await propose(5, 'a');
    const s = await statusUntil('every follower caught up', (x) =>
      x.replicas.every((r) => r.reachable && r.lag?.entries === 0),
    );
    expect(s).toMatchObject({ cluster: g.at.cluster, group: 'g', leaderId: leader.id });
    expect([...s.members.voters].sort()).toEqual(['n1', 'n2', 'n3']);
    expect(s.members).toMatchObject({ learners: [], outgoing: [], joint: false });
    expect(s.replicas.map((r) => r.node)).toEqual(['n1', 'n2', 'n3']);
    for (const r of s.replicas) {
      if (!r.reachable) throw new Error(`${r.node} unreachable: ${r.reason}`);
      const own = byId(r.node).node.status();
      expect(r.status).toMatchObject({
        id: r.node,
        role: r.node === leader.id ? 'leader' : 'follower',
        term: s.term,
        leaderId: leader.id,
        version: REPLICA_SERVICE_VERSION,
        connected: true,
      });
      // The leader's no-op and 5 commands; a follower hears of the last commit with the next append or tick.
      expect(r.status.commitIndex).toBeGreaterThanOrEqual(r.node === leader.id ? 6 : 5);
      expect(r.status.appliedIndex).toBeLessThanOrEqual(own.appliedIndex);
      expect(r.status.lastIndex).toBeGreaterThanOrEqual(r.status.appliedIndex);
      expect(r.status.snapshotIndex).toBe(0);
      expect(Object.keys(r.status.drops.received!)).toEqual([...DROP_REASONS]);
      expect(r.status.drops.sent).toMatchObject({ disconnected: 0, oversize: 0, closed: 0, error: 0 });
      expect(r.status.drops.node).toBe(0);
      expect(r.status.verification).toMatchObject({ lastIndex: 0, stoppedApplying: false });
      expect(r.status.storageError).toBeUndefined();
      expect(r.status.uptimeMs).toBeGreaterThanOrEqual(0);
      expect(r.lag).toEqual({ entries: 0, ms: 0 });
    }
    const followers = report(s, leader.id);
    if (!followers.reachable) throw new Error('leader unreachable');
    expect(Object.keys(followers.status.followers!).sort()).toEqual(
      g.replicas
        .filter((r) => r !== leader)
        .map((r) => r.id)
        .sort(),
    );

    // A follower cut off from Raft falls behind: in entries at once, and in ms as the leader's samples age.
    const behind = g.replicas.find((r) => r !== leader)!;
    behind.link.isolated = true;
    await propose(4, 'b');
    await sleep(200); // ten of the leader's 20 ms samples
    const lagging = await g.admin.status();
    const lag = report(lagging, behind.id);
    if (!lag.reachable) throw new Error('an isolated replica still answers admin requests');
    expect(lag.lag!.entries).toBeGreaterThanOrEqual(4);
    expect(lag.lag!.ms).toBeGreaterThan(0);
    behind.link.isolated = false;
    await statusUntil(
      'the follower caught up again',
      (x) =>
        report(x, behind.id).reachable &&
        (report(x, behind.id) as { lag?: { entries: number } }).lag?.entries === 0,
    );

    // A stopped replica is reported, not thrown: the others still name it as a member.
    await behind.stop();
    const after = await g.admin.status();
    expect(after.replicas.map((r) => r.node)).toEqual(['n1', 'n2', 'n3']);
    expect(report(after, behind.id)).toEqual({
      node: behind.id,
      reachable: false,
      reason: 'nobody serves its admin subject',
    });
    expect(after.replicas.filter((r) => r.reachable)).toHaveLength(2);
    expect(await g.admin.replicaStatus(leader.id)).toMatchObject({ id: leader.id, role: 'leader' });
  });

  it('adds a learner, promotes and removes it, adds a voter through catch-up, and every repeat is success with changed: false', async () => {
    g.replicas = await startAdminGroup(g.at, ['n1', 'n2', 'n3']);
    await propose(10, 'k');
    g.replicas.push(await startAdminReplica(g.at, 'n4', []));

    const learner = await g.admin.addLearner('n4');
    expect(learner).toMatchObject({ changed: true, members: { learners: ['n4'], joint: false } });
    expect(await g.admin.addLearner('n4')).toMatchObject({ changed: false, members: { learners: ['n4'] } });
    await waitFor('n4 to hold the state', () => byId('n4').applier.counts.get('k9') === 1);
    const s = await g.admin.status();
    expect(s.members.learners).toEqual(['n4']);
    expect(report(s, 'n4')).toMatchObject({ reachable: true, status: { role: 'follower' } });

    const promoted = await g.admin.promote('n4');
    expect(promoted.changed).toBe(true);
    expect([...promoted.members.voters].sort()).toEqual(['n1', 'n2', 'n3', 'n4']);
    expect(promoted.members.learners).toEqual([]);
    expect((await g.admin.promote('n4')).changed).toBe(false);
    expect((await g.admin.addVoter('n4')).changed).toBe(false);
    await expect(g.admin.addLearner('n4')).rejects.toBeInstanceOf(AdminRefusedError);
    await expect(g.admin.addLearner('n4')).rejects.toThrow('add-learner refused: n4 is a voter');

    const removed = await g.admin.remove('n4');
    expect(removed.changed).toBe(true);
    expect(removed.members.voters).not.toContain('n4');
    expect(await g.admin.remove('n4')).toMatchObject({ changed: false });
    await expect(g.admin.promote('n4')).rejects.toThrow('promote refused: n4 is not a learner');

    // addVoter: joins as a learner, is promoted once caught up, and holds the state.
    g.replicas.push(await startAdminReplica(g.at, 'n5', []));
    const voter = await g.admin.addVoter('n5');
    expect(voter.changed).toBe(true);
    expect(voter.members.voters).toContain('n5');
    expect(voter.members.learners).toEqual([]);
    await waitFor('n5 to hold the state', () => byId('n5').applier.counts.get('k9') === 1);
    expect((await g.admin.addVoter('n5')).changed).toBe(false);
    const five = await statusUntil('n5 as a voter', (x) => x.members.voters.includes('n5'));
    expect([...five.members.voters].sort()).toEqual(['n1', 'n2', 'n3', 'n5']);
    for (const id of five.members.voters) expect(report(five, id)).toMatchObject({ reachable: true });
  });

  it('removes the leader itself: it steps down, another voter leads, and the removed one is no longer a member', async () => {
    g.replicas = await startAdminGroup(g.at, ['n1', 'n2', 'n3']);
    const old = await g.leaderOf();
    await propose(3, 'r');
    const out = await g.admin.remove(old.id);
    expect(out.changed).toBe(true);
    expect(out.members.voters).not.toContain(old.id);
    const s = await statusUntil('another leader', (x) => x.leaderId !== '' && x.leaderId !== old.id);
    expect([...s.members.voters].sort()).toEqual(['n1', 'n2', 'n3'].filter((id) => id !== old.id));
    expect(await g.admin.remove(old.id)).toMatchObject({ changed: false });
  });

  it('transfers leadership to a named replica, treats the current leader as success, and refuses a non-voter', async () => {
    g.replicas = await startAdminGroup(g.at, ['n1', 'n2', 'n3']);
    const leader = await g.leaderOf();
    const target = g.replicas.find((r) => r !== leader)!;
    const moved = await g.admin.transferLeadership(target.id);
    expect(moved).toEqual({ leaderId: target.id, changed: true });
    await waitFor('the target to lead', () => target.node.isLeader());
    expect(await g.admin.transferLeadership(target.id)).toEqual({ leaderId: target.id, changed: false });
    const s = await statusUntil('the new leader', (x) => x.leaderId === target.id);
    expect(report(s, target.id)).toMatchObject({ status: { role: 'leader' } });

    const best = await g.admin.transferLeadership();
    expect(best.changed).toBe(true);
    expect(best.leaderId).not.toBe(target.id);
    expect(['n1', 'n2', 'n3']).toContain(best.leaderId);

    await expect(g.admin.transferLeadership('n9')).rejects.toThrow('transfer refused: n9 is not a voter');
  });

  it('takes a snapshot now on the leader and on a named follower', async () => {
    g.replicas = await startAdminGroup(g.at, ['n1', 'n2', 'n3']);
    const leader = await g.leaderOf();
    await propose(12, 's');
    const taken = await g.admin.snapshot();
    expect(taken.node).toBe(leader.id);
    expect(taken.index).toBeGreaterThanOrEqual(13);
    expect(leader.node.status().snapshotIndex).toBe(taken.index);
    const follower = g.replicas.find((r) => r !== leader)!;
    await waitFor('the follower to apply', () => follower.node.status().appliedIndex >= taken.index);
    const theirs = await g.admin.snapshot({ node: follower.id });
    expect(theirs).toEqual({ node: follower.id, index: follower.node.status().appliedIndex });
    expect(follower.node.status().snapshotIndex).toBe(theirs.index);
    const s = await g.admin.status();
    expect(report(s, follower.id)).toMatchObject({ status: { snapshotIndex: theirs.index } });
    // Nothing applied since: the same snapshot again.
    expect(await g.admin.snapshot({ node: follower.id })).toEqual(theirs);
  });

  it('a follower answers a leader operation with NotLeaderError naming the leader, and a client whose leader changed follows it', async () => {
    g.replicas = await startAdminGroup(g.at, ['n1', 'n2', 'n3']);
    const leader = await g.leaderOf();
    const follower = g.replicas.find((r) => r !== leader)!;
    await waitFor('the follower to know the leader', () => follower.node.status().leaderId === leader.id);
    const subject = `raftline.${g.at.cluster}.g.admin.${follower.id}.remove`;
    const reply = await g.nc.request(subject, JSON.stringify({ node: 'zz' }), { timeout: 1000 });
    const body = reply.json<{
      ok: boolean;
      node: string;
      error: { name: string; fields: { leaderId: string } };
    }>();
    expect(body).toMatchObject({ ok: false, node: follower.id, error: { name: NotLeaderError.name } });
    expect(body.error.fields.leaderId).toBe(leader.id);

    // The client learns the leader, which then hands leadership over behind its back.
    expect((await g.admin.status()).leaderId).toBe(leader.id);
    await leader.node.transferLeadership(follower.id);
    await waitFor('the follower to lead', () => follower.node.isLeader());
    expect(await g.admin.remove('zz')).toMatchObject({ changed: false });
    expect((await g.admin.addLearner('n7')).members.learners).toEqual(['n7']);
    expect((await g.admin.remove('n7')).changed).toBe(true);
  });
});
