import { connectNats, FrameCodec, groupSubjects, NatsRaftClient, type NatsConnection } from '../src/index';
import type { Message } from '@raftline/core';
import { startAdminGroup, type AdminReplica } from './support/admin';
import { sleep, startNatsServer, uniqueCluster, waitFor, type OwnNatsServer } from './support/nats-server';
import { forgedMessages, passwordAuthorization, watchViolations } from './support/security';

jest.setTimeout(90_000);

// admin-permissions.integration.spec.ts proves that a client user's AdminClient calls are refused.
// This file proves that the same user cannot reach the Raft traffic at all: every frame it tries to
// publish on a Raft, leader, liveness, stream or admin subject is refused by the server, and the group
// never sees it.
describe('security - a client user of the README permissions cannot touch the Raft subjects', () => {
  let server: OwnNatsServer;
  const cluster = uniqueCluster('secperm');
  const group = 'g';
  const ids = ['n1', 'n2', 'n3'];
  const connections: NatsConnection[] = [];
  let replicas: AdminReplica[] = [];

  const connectAs = async (user: string, pass: string): Promise<NatsConnection> => {
    const nc = await connectNats({ servers: server.url, user, pass });
    connections.push(nc);
    return nc;
  };

  beforeAll(async () => {
    server = await startNatsServer({ config: passwordAuthorization(cluster) });
  });
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await Promise.all(connections.map((nc) => nc.close()));
    await server.dispose();
  });

  it('forged votes, appends, heartbeats, timeout-now and snapshots from a client user are refused by NATS; term, leader and log stay as they were; commands are still served', async () => {
    const rc = await connectAs('replica', 'r');
    replicas = await startAdminGroup({ connection: rc, cluster, group }, ids);
    await waitFor('one leader', () => replicas.filter((r) => r.node.isLeader()).length === 1, 15_000);
    const cc = await connectAs('client', 'c');
    const client = new NatsRaftClient({ connection: cc, cluster, group });
    expect(await client.propose({ name: 'inc', args: ['x'] })).toBe(1);
    await waitFor('every replica applied it', () => replicas.every((r) => r.applier.counts.get('x') === 1));

    const leader = replicas.find((r) => r.node.isLeader())!;
    const before = leader.node.status();
    const view = {
      leader: leader.id,
      term: before.term,
      lastIndex: before.lastIndex,
      commit: before.commitIndex,
    };
    const violations = watchViolations(cc);
    const s = groupSubjects(cluster, group);
    // Each frame in the name of the message's sender (the envelope's sender is the one a node believes).
    const forge = (m: Message) => new FrameCodec({ cluster, group, nodeId: m.from }).encodeRaft(m.to, [m]);

    // Every kind of Raft message, to every replica, as the real transport would frame it.
    const attempts: string[] = [];
    // The candidate is another member, so a vote would count if it arrived.
    const candidateFor = (victim: string) => ids.find((id) => id !== victim && id !== leader.id)!;
    for (const victim of ids) {
      for (const m of forgedMessages(victim, view, candidateFor(victim))) {
        cc.publish(s.raft(victim), forge(m));
        attempts.push(s.raft(victim));
      }
    }
    // The group's other subjects a replica publishes on, and the admin subjects.
    const others = [
      s.leader,
      s.alive('n1'),
      s.committed,
      s.service('n1', 'status'),
      s.adminAny('transfer'),
      s.admin('n1', 'remove'),
      s.admin('n2', 'snapshot'),
    ];
    for (const subject of others) {
      cc.publish(subject, new TextEncoder().encode('{"to":"n2","node":"n1"}'));
      attempts.push(subject);
    }
    // Nor may it listen to the Raft traffic.
    const eavesdrop = cc.subscribe(s.raft('n1'));
    await cc.flush();
    await waitFor('a violation per attempt', () => violations.length >= attempts.length + 1, 10_000);

    const published = violations.filter((v) => v.operation === 'publish').map((v) => v.subject);
    expect(published.sort()).toEqual([...attempts].sort());
    expect(violations.filter((v) => v.operation === 'subscription').map((v) => v.subject)).toEqual([
      s.raft('n1'),
    ]);
    expect(eavesdrop.isClosed()).toBe(true);

    // Several election timeouts (300 ms each) for anything that got through to show.
    await sleep(1500);
    for (const r of replicas) {
      const st = r.node.status();
      expect({ id: r.id, term: st.term, leaderId: st.leaderId, commit: st.commitIndex }).toEqual({
        id: r.id,
        term: before.term,
        leaderId: leader.id,
        commit: before.commitIndex,
      });
      expect(r.applier.counts.has('forged')).toBe(false);
      expect(r.applier.applied).toEqual(['x']);
    }
    expect(await client.propose({ name: 'inc', args: ['x'] })).toBe(2);
    const q = await client.query({ name: 'count', args: ['x'] }, { consistency: 'linearizable' });
    expect(q.value).toBe(2);

    // The control: the same forged vote, from a user with a replica's rights, does reach a follower.
    const follower = replicas.find((r) => r.id !== leader.id)!;
    const vote = forgedMessages(follower.id, view, candidateFor(follower.id))[0]!;
    rc.publish(s.raft(follower.id), forge(vote));
    await waitFor(
      'the forged vote raises the follower’s term',
      () => follower.node.status().term >= vote.term,
    );
  });
});
