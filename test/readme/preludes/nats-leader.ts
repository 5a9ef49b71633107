// Prelude (inlined into a generated driver, type-checked there): before a
// program that needs the group's leader, waits up to 60 s until one of the
// replicas an earlier run=background block started reports role 'leader' on
// its NATS service status endpoint.
import { connectNats, discoverReplicas } from '@raftline/transport-nats';

{
  const nc = await connectNats({ servers: process.env.NATS_URL });
  const leads = async (subject: string | undefined): Promise<boolean> => {
    if (!subject) return false;
    try {
      const reply = await nc.request(subject, '', { timeout: 1000 });
      return (JSON.parse(reply.string()) as { role?: string }).role === 'leader';
    } catch {
      return false; // not started yet, or not answering
    }
  };
  try {
    await readmeTest.until(
      async () => {
        const replicas = await discoverReplicas(nc, { cluster: process.env.RAFT_CLUSTER });
        return (await Promise.all(replicas.map((r) => leads(r.endpoints.status)))).includes(true);
      },
      'a leader among the replicas',
      60_000,
    );
  } finally {
    await nc.close();
  }
}
