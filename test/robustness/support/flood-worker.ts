// One flood process of the overload run (test/robustness/overload.ts): an
// open-loop flood of puts from its own NATS connections, so the flood's own
// event loop never delays the probe's measurements. Reads FLOOD (JSON:
// natsUrl, cluster, group, prefix, rate, durationMs, connections,
// maxOutstanding); prints its LoadTally as one JSON line when done.
import { connectNats } from '@raftline/transport-nats';
import { openLoop } from './flood';

interface FloodSpec {
  readonly natsUrl: string;
  readonly cluster: string;
  readonly group: string;
  readonly prefix: string;
  readonly rate: number;
  readonly durationMs: number;
  readonly connections: number;
  readonly maxOutstanding: number;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.env.FLOOD ?? '') as FloodSpec;
  const connections = await Promise.all(
    Array.from({ length: spec.connections }, (_, i) =>
      connectNats({ servers: spec.natsUrl, name: `${spec.prefix} ${i}` }),
    ),
  );
  const flood = openLoop(
    { connections, cluster: spec.cluster, group: spec.group, prefix: spec.prefix },
    spec.rate,
    spec.durationMs,
    spec.maxOutstanding,
  );
  const tally = await flood.done;
  await Promise.all(connections.map((c) => c.close()));
  await new Promise<void>((resolve) => process.stdout.write(`${JSON.stringify(tally)}\n`, () => resolve()));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`flood worker failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
