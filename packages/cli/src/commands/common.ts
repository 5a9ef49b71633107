/**
 * What every client command shares: where the group is (a serve config
 * file, RAFTLINE_* variables, flags — the later overriding), the NATS
 * connection, and the output format.
 */
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { ConfigError } from '@raftline/core';
import { connectNats, credsFileOptions, type NatsConnection } from '@raftline/transport-nats';
import { FieldReader } from '../config/fields';
import { readConfigFile } from '../config/load';
import { SERVE_DEFAULTS } from '../config/schema';
import { UsageError } from '../errors';
import { FORMATS, type Format } from '../output';

/** The options every client command takes (commander's parsed values). */
export interface TargetFlags {
  readonly config?: string;
  readonly cluster?: string;
  readonly group?: string;
  readonly nats?: string;
  readonly natsUser?: string;
  readonly natsPassword?: string;
  readonly natsToken?: string;
  readonly natsCreds?: string;
  readonly timeout?: string;
  readonly writeOut?: string;
  readonly json?: boolean;
}

/** Adds the client options to a command. */
export function targetOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'a raftline serve config: its cluster, NATS settings and groups')
    .addOption(new Option('--cluster <id>', 'the cluster id').env('RAFTLINE_CLUSTER'))
    .addOption(new Option('-g, --group <name>', 'the group').env('RAFTLINE_GROUP'))
    .addOption(new Option('--nats <urls>', 'NATS servers, comma-separated').env('RAFTLINE_NATS_SERVERS'))
    .addOption(new Option('--nats-user <user>', 'NATS user').env('RAFTLINE_NATS_USER'))
    .addOption(new Option('--nats-password <password>', 'NATS password').env('RAFTLINE_NATS_PASSWORD'))
    .addOption(new Option('--nats-token <token>', 'NATS token').env('RAFTLINE_NATS_TOKEN'))
    .addOption(new Option('--nats-creds <file>', 'NATS credentials file').env('RAFTLINE_NATS_CREDS'))
    .option('--timeout <ms>', 'how long the operation may take', '10000')
    .addOption(new Option('-w, --write-out <format>', 'output format').choices(FORMATS).default('table'))
    .option('--json', 'same as -w json');
}

/** Where a command goes. */
export interface Target {
  readonly cluster: string;
  /** The groups named: by --group, else every group of the config file. */
  readonly groups: readonly string[];
  readonly servers: readonly string[];
  readonly auth: { user?: string; pass?: string; token?: string; creds?: string };
  readonly timeoutMs: number;
  readonly format: Format;
}

/**
 * Resolves the target from the flags (commander has applied the
 * environment to them) over the config file's values.
 * @throws ConfigError for an unreadable config file or a bad value in it; UsageError for a bad --timeout
 */
export function resolveTarget(flags: TargetFlags, cwd = process.cwd()): Target {
  let file: Record<string, unknown> = {};
  if (flags.config) file = readConfigFile(resolve(cwd, flags.config));
  const problems: string[] = [];
  const f = new FieldReader(problems, new Map());
  const nats = f.object(file.nats, 'nats') ?? {};
  const fileGroups = f.object(file.groups, 'groups');
  const servers = f.list(flags.nats, '--nats') ??
    f.list(nats.servers, 'nats.servers') ?? [...SERVE_DEFAULTS.natsServers];
  const cluster = flags.cluster ?? f.string(file.cluster, 'cluster') ?? SERVE_DEFAULTS.cluster;
  const user = flags.natsUser ?? f.string(nats.user, 'nats.user');
  const pass = flags.natsPassword ?? f.string(nats.password, 'nats.password');
  const token = flags.natsToken ?? f.string(nats.token, 'nats.token');
  const creds = flags.natsCreds ?? f.string(nats.creds, 'nats.creds');
  if (problems.length > 0) throw new ConfigError(problems.map((p) => `${flags.config}: ${p}`));
  const timeoutMs = Number(flags.timeout ?? 10_000);
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) {
    throw new UsageError(`--timeout (${flags.timeout}) must be a positive number of milliseconds`);
  }
  const groups = flags.group ? [flags.group] : Object.keys(fileGroups ?? {});
  return {
    cluster,
    groups,
    servers,
    auth: {
      ...(user !== undefined ? { user } : {}),
      ...(pass !== undefined ? { pass } : {}),
      ...(token !== undefined ? { token } : {}),
      ...(creds !== undefined ? { creds: resolve(cwd, creds) } : {}),
    },
    timeoutMs,
    format: flags.json ? 'json' : ((flags.writeOut as Format | undefined) ?? 'table'),
  };
}

/**
 * The one group a command acts on.
 * @throws UsageError when no group is named, or the config file has several and --group picks none
 */
export function oneGroup(target: Target): string {
  if (target.groups.length === 1) return target.groups[0]!;
  if (target.groups.length === 0) {
    throw new UsageError('no group given: pass --group <name> (or RAFTLINE_GROUP, or -c <serve config>)');
  }
  throw new UsageError(`the config has several groups (${target.groups.join(', ')}): pick one with --group`);
}

/** Every group a command acts on (status), at least one. */
export function someGroups(target: Target): readonly string[] {
  if (target.groups.length === 0) oneGroup(target);
  return target.groups;
}

/**
 * Connects to NATS for one command: no reconnecting for ever, a short connect timeout.
 * @throws the nats.js connection error (exit code 4, see errors.ts)
 */
export function connect(target: Target): Promise<NatsConnection> {
  const { creds, ...auth } = target.auth;
  return connectNats({
    servers: [...target.servers],
    name: 'raftline cli',
    maxReconnectAttempts: 2,
    timeout: Math.min(5000, target.timeoutMs),
    ...auth,
    ...(creds ? credsFileOptions(creds) : {}),
  });
}

/**
 * Runs fn with a connection, closing it after (fn's error, if any, is what is thrown).
 */
export async function withConnection<T>(target: Target, fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connect(target);
  try {
    return await fn(nc);
  } finally {
    await nc.close().catch(() => undefined);
  }
}

/**
 * Parses a command's arguments: a JSON array is the list of arguments, any
 * other JSON value is the one argument, nothing is none.
 * @throws UsageError naming `what` when the text is not JSON
 */
export function parseArgs(text: string | undefined, what = 'args'): unknown[] {
  if (text === undefined) return [];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(
      `${what} (${text.length > 40 ? `${text.slice(0, 37)}...` : text}) must be JSON, e.g. '["key", 1]': ${(err as Error).message}`,
    );
  }
  return Array.isArray(value) ? value : [value];
}

/** Parses a positive integer flag. @throws UsageError naming the flag */
export function positiveInt(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new UsageError(`${flag} (${value}) must be a positive integer`);
  return n;
}
