/**
 * The raftline demo: a 3-replica cluster in one process, on virtual time.
 * It elects a leader, runs commands through Raft, cuts the leader off,
 * shows the majority electing a new leader and the old one catching up,
 * then checks Raft's safety properties. Run: npm run demo:sim
 */
import { KvMachine, SimCluster } from '@raftline/testing';

function show(c: SimCluster, title: string): void {
  console.log(`\n# ${title}  (t=${c.now()} ms virtual)`);
  for (const id of c.ids) {
    const s = c.status(id);
    console.log(`  ${id}  ${s.role.padEnd(13)} term ${s.term}  commit ${s.commitIndex}  applied ${s.appliedIndex}`);
  }
}

function leaderOf(c: SimCluster): string {
  const leader = c.ids.find((id) => c.status(id).role === 'leader');
  if (!leader) throw new Error('no leader');
  return leader;
}

async function main(): Promise<void> {
  const c = await SimCluster.create({ nodes: 3, seed: 7, stateMachine: () => new KvMachine() });
  await c.advance(1000);
  show(c, 'a leader is elected');

  await c.propose({ name: 'put', args: ['color', 'blue'] });
  await c.propose({ name: 'append', args: ['log', 'a'] });
  console.log(`\nput color=blue, append log+=a → get color = ${String(await c.propose({ name: 'get', args: ['color'] }))}`);

  const old = leaderOf(c);
  c.disconnect(old);
  console.log(`\ncutting the leader ${old} off from the others…`);
  await c.advance(2000);
  show(c, 'the majority elects a new leader; the old one cannot commit');
  await c.propose({ name: 'put', args: ['color', 'green'] });
  console.log(`put color=green through the new leader ${leaderOf(c)}`);

  c.connect(old);
  await c.advance(2000);
  show(c, `${old} rejoins, steps down and catches up`);

  const values = c.ids.map((id) => [...c.applied(id).values()].filter((cmd) => cmd.name === 'put').length);
  console.log(`\nputs applied per replica: ${values.join(', ')}`);
  c.check();
  console.log('safety check passed: one leader per term, matching logs, no applied entry differs');
  await c.stop();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
