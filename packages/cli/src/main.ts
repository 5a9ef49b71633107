/**
 * The `raftline` command line (commander): `serve` and the commands that
 * drive a group over NATS. Every command has --help; exit codes are EXIT's
 * (errors.ts); an error prints as one line on stderr, without a stack.
 */
import 'reflect-metadata';
import { Command, CommanderError, Option } from 'commander';
import { benchCommand } from './commands/bench';
import { callCommand, CONSISTENCIES, queryCommand } from './commands/call';
import { positiveInt, resolveTarget, targetOptions, type TargetFlags } from './commands/common';
import { membersChange, membersList } from './commands/members';
import { serviceCommands } from './commands/services';
import { snapshotCommand, transferCommand, verifyCommand } from './commands/ops';
import { statusCommand } from './commands/status';
import { tailCommand } from './commands/tail';
import { dashboardCommand, DASHBOARD_DEFAULTS, type DashboardFlags } from './dashboard/command';
import { describeError, EXIT, exitCodeOf } from './errors';
import { configFrom, serveCommand, serveOptions } from './serve/command';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const VERSION = (require('../package.json') as { version: string }).version;

/** Builds the program; `run` parses and executes it. */
export function program(): Command {
  const root = new Command('raftline')
    .description(
      'Run and operate raftline replicas: serve, status, members, transfer, snapshot, verify, tail, call, query, bench, dashboard; per service: queue, flags, coord.',
    )
    .version(VERSION)
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();

  const serve = root
    .command('serve')
    .description(
      'run the replicas a config file (or flags) names: one process, one NATS connection, one database',
    )
    .addHelpText(
      'after',
      '\nSettings: the file, then RAFTLINE_* variables, then flags. See packages/cli/README.md.',
    );
  const byPath = serveOptions(serve);
  serve.action(async (opts: Record<string, unknown>) => {
    await serveCommand(configFrom(opts, byPath), opts.check === true);
  });

  leaf(
    root,
    'status',
    'the status of every replica of the group(s): role, term, leader, indices, lag, store, version',
  )
    .option('--watch [ms]', 'refresh every ms (default 1000) until interrupted')
    .action(async (opts: TargetFlags & { watch?: string | boolean }) => {
      const { watch: w } = opts;
      const watch = typeof w === 'string' ? positiveInt(w, '--watch', 1000) : w ? 1000 : undefined;
      await statusCommand(resolveTarget(opts), watch);
    });

  const members = root
    .command('members')
    .description('list and change the members of a group')
    .exitOverride();
  leaf(members, 'list', 'every voter and learner, its state and lag').action(async (opts: TargetFlags) => {
    await membersList(resolveTarget(opts));
  });
  leaf(members, 'add', 'add a voter: it joins as a learner and is promoted once caught up')
    .argument('<node>', 'the node id')
    .option('--max-lag <entries>', 'promote once within this many entries of the leader')
    .action(async (node: string, opts: TargetFlags & { maxLag?: string }) => {
      const maxLag = opts.maxLag === undefined ? undefined : positiveInt(opts.maxLag, '--max-lag', 1);
      await membersChange(resolveTarget(opts), 'add', node, maxLag !== undefined ? { maxLag } : {});
    });
  for (const [op, text] of [
    ['add-learner', 'add a learner (receives the log, does not vote)'],
    ['promote', 'make a learner a voter at once'],
    ['remove', 'remove a voter or learner'],
  ] as const) {
    leaf(members, op, text)
      .argument('<node>', 'the node id')
      .action(async (node: string, opts: TargetFlags) => {
        await membersChange(resolveTarget(opts), op, node);
      });
  }

  leaf(root, 'transfer', 'move leadership to a voter (default: the most up-to-date other voter)')
    .argument('[to]', 'the voter to lead')
    .action(async (to: string | undefined, opts: TargetFlags) => {
      await transferCommand(resolveTarget(opts), to);
    });

  leaf(root, 'snapshot', 'take a snapshot now, on the leader or on --node')
    .option('--node <id>', 'the replica to snapshot')
    .action(async (opts: TargetFlags & { node?: string }) => {
      await snapshotCommand(resolveTarget(opts), opts.node);
    });

  leaf(
    root,
    'verify',
    'check that every replica holds the same state (digests side by side); exit 3 if not',
  ).action(async (opts: TargetFlags) => {
    await verifyCommand(resolveTarget(opts));
  });

  leaf(root, 'tail', "the group's committed commands from an index (from its JetStream mirror)")
    .option('--from <index>', 'the first log index', '1')
    .option('--all', 'also failed commands and duplicates (default: applied ones)')
    .option('-f, --follow', 'keep waiting for new commands')
    .option('-n, --limit <count>', 'stop after this many')
    .action(
      async (opts: TargetFlags & { from?: string; all?: boolean; follow?: boolean; limit?: string }) => {
        await tailCommand(resolveTarget(opts), {
          fromIndex: positiveInt(opts.from, '--from', 1),
          outcomes: opts.all ? 'all' : 'applied',
          follow: opts.follow === true,
          ...(opts.limit !== undefined ? { limit: positiveInt(opts.limit, '--limit', 1) } : {}),
        });
      },
    );

  leaf(root, 'call', 'propose one command and print its result (JSON)')
    .argument('<command>', "the handler's name")
    .argument('[args]', 'its arguments as JSON: an array, or one value')
    .action(async (name: string, args: string | undefined, opts: TargetFlags) => {
      await callCommand(resolveTarget(opts), name, args);
    });

  leaf(root, 'query', 'run one query and print its value (JSON)')
    .argument('<name>', "the query's name")
    .argument('[args]', 'its arguments as JSON: an array, or one value')
    .addOption(
      new Option('--consistency <level>', 'how fresh').choices(CONSISTENCIES).default('linearizable'),
    )
    .option('--replica <id>', 'the replica to ask (default: any)')
    .action(
      async (
        name: string,
        args: string | undefined,
        opts: TargetFlags & { consistency: 'linearizable'; replica?: string },
      ) => {
        await queryCommand(resolveTarget(opts), name, args, {
          consistency: opts.consistency,
          ...(opts.replica ? { replica: opts.replica } : {}),
        });
      },
    );

  leaf(
    root,
    'dashboard',
    'serve a live page of the cluster: replicas, charts, leader changes, service panels',
  )
    .option('--host <address>', 'the address to listen on', DASHBOARD_DEFAULTS.host)
    .option('--port <port>', 'the port to listen on (0: any free one)', String(DASHBOARD_DEFAULTS.port))
    .option('--interval <ms>', 'how often to refresh', String(DASHBOARD_DEFAULTS.intervalMs))
    .option(
      '--history <points>',
      'how many samples the charts keep',
      String(DASHBOARD_DEFAULTS.historyPoints),
    )
    .option('--probe <query>', "a query of the group's machine to time as its read latency")
    .option('--probe-args <json>', "the probe query's arguments as JSON")
    .action(async (opts: TargetFlags & DashboardFlags) => {
      await dashboardCommand(resolveTarget(opts), opts);
    });

  leaf(
    root,
    'bench',
    'a quick bounded load: --count requests, --concurrency at once, at most --duration seconds',
  )
    .argument(
      '<command>',
      'the command (or, with --query, the query) to send; {n} in a string argument is the request number',
    )
    .argument('[args]', 'its arguments as JSON')
    .option('--count <n>', 'requests in all', '1000')
    .option('--concurrency <n>', 'requests in flight at once', '16')
    .option('--duration <seconds>', 'stop after this long', '30')
    .option('--query', 'send queries instead of commands')
    .addOption(
      new Option('--consistency <level>', 'with --query').choices(CONSISTENCIES).default('linearizable'),
    )
    .action(
      async (
        name: string,
        args: string | undefined,
        opts: TargetFlags & {
          count?: string;
          concurrency?: string;
          duration?: string;
          query?: boolean;
          consistency: 'linearizable';
        },
      ) => {
        await benchCommand(resolveTarget(opts), name, args, {
          count: positiveInt(opts.count, '--count', 1000),
          concurrency: positiveInt(opts.concurrency, '--concurrency', 16),
          maxSeconds: positiveInt(opts.duration, '--duration', 30),
          query: opts.query === true,
          consistency: opts.consistency,
        });
      },
    );
  serviceCommands(root);
  return root;
}

/** A command that acts on a group: the target options, commander's errors thrown rather than exiting. */
function leaf(parent: Command, name: string, description: string): Command {
  return targetOptions(parent.command(name).description(description)).exitOverride();
}

/**
 * Runs the command line and exits with its code. Long-running commands
 * (serve, status --watch, tail -f) exit on their own signals.
 */
export function run(argv: readonly string[]): void {
  const cmd = program();
  const sub = argv[2];
  const name = sub !== undefined && !sub.startsWith('-') ? `raftline ${sub}` : 'raftline';
  cmd.parseAsync([...argv]).then(
    () => {
      if (argv[2] !== 'serve' || argv.includes('--check')) process.exit(process.exitCode ?? EXIT.ok);
    },
    (err: unknown) => {
      // --help and --version exit 0; anything commander refused (and help shown for a missing subcommand) is usage.
      if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage);
      process.stderr.write(`${name}: ${describeError(err)}\n`);
      process.exit(exitCodeOf(err));
    },
  );
}
