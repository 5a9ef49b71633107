/* eslint-disable @typescript-eslint/no-unused-vars -- the README block after the prelude uses these names */
// Prelude (inlined into a generated driver, type-checked there): what a block
// that reads a group's committed stream needs. `nc`, a NATS connection (closed
// after the README's last block); `cluster` and `group`, as the replica.ts
// block sets them; `lastSeenSequence`, where a consumer resumes (0: from the
// start). Waits up to 30 s for the mirror's first message, so that a broken
// mirror fails here rather than leaving the consumer waiting.
import { jetstreamManager } from '@nats-io/jetstream';
import { committedStreamName, connectNats } from '@raftline/transport-nats';

const nc = await connectNats({ servers: process.env.NATS_URL });
readmeTest.onCleanup(() => nc.close());
const cluster = process.env.RAFT_CLUSTER ?? 'demo';
const group = 'kv';
const lastSeenSequence = 0;
{
  const jsm = await jetstreamManager(nc);
  await readmeTest.until(
    async () => {
      const info = await jsm.streams.info(committedStreamName(cluster, group)).catch(() => undefined);
      return (info?.state.messages ?? 0) > 0;
    },
    'the first message of the committed stream',
    30_000,
  );
}
