/**
 * Runs the randomized simulation over many seeds and reports violations,
 * each with the one-line command that replays it.
 *
 *   npm run sim -- --seeds 1000 --nodes 5     seeds 1..1000 on 5 nodes
 *   npm run sim -- --seeds 500                3 and 5 nodes alternating
 *   npm run sim -- --seed 1234 --nodes 5      replay one seed, with its event log
 *
 * Options: --seeds N, --from S (first seed, default 1), --seed S, --nodes N,
 * --duration MS (virtual ms of faults per seed), --clients N,
 * --storage-latency MIN,MAX (each durable write takes that long; a crash loses
 * a write in flight; default: drawn per seed), --snapshot-every N (default:
 * drawn per seed; 0 turns snapshots off), --verbose, and --no-snapshots,
 * --no-membership, --no-transfers, --no-reads, --no-slow-storage to leave
 * that part out of the random schedule (see SweepFeatures).
 * Exits with status 1 when a seed fails.
 */
import { runSeed, type RunSeedOptions, type SeedResult, type SweepFeatures } from '../src/index';

const FEATURE_FLAGS: Readonly<Record<string, keyof SweepFeatures>> = {
  '--no-snapshots': 'snapshots',
  '--no-membership': 'membership',
  '--no-transfers': 'transfers',
  '--no-reads': 'reads',
  '--no-slow-storage': 'slowStorage',
};

interface Args {
  seeds: number;
  from: number;
  single: number | undefined;
  nodes: number | undefined;
  durationMs: number | undefined;
  clients: number | undefined;
  storageLatencyMs: [number, number] | undefined;
  snapshotEvery: number | undefined;
  off: string[];
  verbose: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {
    seeds: 100,
    from: 1,
    single: undefined,
    nodes: undefined,
    durationMs: undefined,
    clients: undefined,
    storageLatencyMs: undefined,
    snapshotEvery: undefined,
    off: [],
    verbose: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--verbose') {
      args.verbose = true;
      continue;
    }
    if (FEATURE_FLAGS[flag]) {
      args.off.push(flag);
      continue;
    }
    if (flag === '--storage-latency') {
      const [lo, hi] = (argv[++i] ?? '').split(',').map(Number);
      if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi))
        throw new Error(`--storage-latency needs MIN,MAX, got ${argv[i]}`);
      args.storageLatencyMs = [lo!, hi!];
      continue;
    }
    const value = Number(argv[++i]);
    if (!Number.isSafeInteger(value) || value < 0)
      throw new Error(`${flag} needs a non-negative integer, got ${argv[i]}`);
    if (flag === '--seeds') args.seeds = value;
    else if (flag === '--from') args.from = value;
    else if (flag === '--seed') args.single = value;
    else if (flag === '--nodes') args.nodes = value;
    else if (flag === '--duration') args.durationMs = value;
    else if (flag === '--clients') args.clients = value;
    else if (flag === '--snapshot-every') args.snapshotEvery = value;
    else throw new Error(`unknown option ${flag}`);
  }
  return args;
}

function replayCommand(r: SeedResult, args: Args): string {
  const extra = [
    args.durationMs !== undefined ? ` --duration ${args.durationMs}` : '',
    args.clients !== undefined ? ` --clients ${args.clients}` : '',
    args.storageLatencyMs ? ` --storage-latency ${args.storageLatencyMs.join(',')}` : '',
    args.snapshotEvery !== undefined ? ` --snapshot-every ${args.snapshotEvery}` : '',
    ...args.off.map((flag) => ` ${flag}`),
  ].join('');
  return `npm run sim -- --seed ${r.seed} --nodes ${r.nodes}${extra}`;
}

function describe(r: SeedResult): string {
  const v = r.violation;
  if (!v) return `ok   seed ${r.seed} (${r.nodes} nodes)`;
  const kind = v.property ? `${v.kind} (${v.property})` : v.kind;
  return `FAIL seed ${r.seed} (${r.nodes} nodes): ${kind}: ${v.message}`;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const seeds =
    args.single !== undefined ? [args.single] : Array.from({ length: args.seeds }, (_, k) => args.from + k);
  const started = Date.now();
  let failures = 0;
  for (const [k, seed] of seeds.entries()) {
    const options: RunSeedOptions = {
      nodes: args.nodes ?? (seed % 2 === 0 ? 5 : 3),
      ...(args.durationMs !== undefined ? { durationMs: args.durationMs } : {}),
      ...(args.clients !== undefined ? { clients: args.clients } : {}),
      cluster: {
        ...(args.storageLatencyMs ? { storageLatencyMs: args.storageLatencyMs } : {}),
        ...(args.snapshotEvery !== undefined ? { snapshotEvery: args.snapshotEvery } : {}),
      },
      features: Object.fromEntries(args.off.map((flag) => [FEATURE_FLAGS[flag], false])),
    };
    const r = await runSeed(seed, options);
    if (!r.ok) failures++;
    if (!r.ok || args.verbose || args.single !== undefined) {
      console.log(describe(r));
      if (!r.ok) console.log(`  replay: ${replayCommand(r, args)}`);
      if (args.single !== undefined) {
        console.log(`  setup: ${JSON.stringify(r.setup)}`);
        for (const e of r.events) console.log(`  ${e}`);
        console.log(`  stats: ${JSON.stringify(r.stats)}`);
      }
    }
    if ((k + 1) % 100 === 0 && k + 1 < seeds.length) {
      console.error(
        `... ${k + 1}/${seeds.length} seeds, ${failures} violations, ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    }
  }
  const sizes =
    args.nodes !== undefined
      ? `${args.nodes} nodes`
      : seeds.length > 1
        ? '3 and 5 nodes'
        : `${seeds[0]! % 2 === 0 ? 5 : 3} nodes`;
  console.log(
    `seeds: ${seeds.length} (${sizes}), violations: ${failures}, elapsed: ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return failures > 0 ? 1 : 0;
}

let finished = false;
process.on('exit', () => {
  // The event loop emptied while a seed was still running: the run stalled (a promise nobody settles).
  if (!finished) {
    console.error('simulation stalled: the event loop emptied before the run finished');
    process.exitCode = 3;
  }
});

main().then(
  (code) => {
    finished = true;
    process.exitCode = code;
  },
  (err: unknown) => {
    finished = true;
    console.error(err);
    process.exitCode = 2;
  },
);
