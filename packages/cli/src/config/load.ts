/**
 * Where `raftline serve` reads its settings: a config file (YAML or JSON),
 * then RAFTLINE_* environment variables, then flags, each overriding the
 * one before. SERVE_SETTINGS is the one table of every variable and flag.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '@raftline/core';
import { parse as parseYaml } from 'yaml';
import { storeShorthand, validateServeConfig, type ServeConfig } from './schema';

/** One setting that the environment or a flag may give. */
export interface ServeSetting {
  /** Its place in the file, dot-separated; under the selected group for `scope: 'group'`. */
  readonly path: string;
  /** The flag, as commander declares it. */
  readonly flag: string;
  readonly env: string;
  readonly description: string;
  readonly scope?: 'group';
}

/** Every setting the environment and flags may give: the README's table is this one. */
export const SERVE_SETTINGS: readonly ServeSetting[] = [
  { path: 'node', flag: '--node <id>', env: 'RAFTLINE_NODE', description: "this replica's node id" },
  {
    path: 'cluster',
    flag: '--cluster <id>',
    env: 'RAFTLINE_CLUSTER',
    description: 'the cluster id (default raftline)',
  },
  {
    path: 'nats.servers',
    flag: '--nats <urls>',
    env: 'RAFTLINE_NATS_SERVERS',
    description: 'NATS servers, comma-separated (default 127.0.0.1:4222)',
  },
  { path: 'nats.user', flag: '--nats-user <user>', env: 'RAFTLINE_NATS_USER', description: 'NATS user' },
  {
    path: 'nats.password',
    flag: '--nats-password <password>',
    env: 'RAFTLINE_NATS_PASSWORD',
    description: 'NATS password',
  },
  { path: 'nats.token', flag: '--nats-token <token>', env: 'RAFTLINE_NATS_TOKEN', description: 'NATS token' },
  {
    path: 'nats.creds',
    flag: '--nats-creds <file>',
    env: 'RAFTLINE_NATS_CREDS',
    description: 'NATS credentials file',
  },
  {
    path: 'nats.clusterKey',
    flag: '--cluster-key <key>',
    env: 'RAFTLINE_CLUSTER_KEY',
    description: 'HMAC key of every Raft frame (the same on every replica)',
  },
  {
    path: 'nats.separateRaftConnection',
    flag: '--separate-raft-connection <bool>',
    env: 'RAFTLINE_SEPARATE_RAFT_CONNECTION',
    description: 'Raft traffic on a NATS connection of its own, apart from clients (default true)',
  },
  {
    path: 'store',
    flag: '--store <url|dir|memory>',
    env: 'RAFTLINE_STORE',
    description: 'a postgres:// URL, an embedded (PGlite) data directory, or memory',
  },
  {
    path: 'store.schema',
    flag: '--store-schema <name>',
    env: 'RAFTLINE_STORE_SCHEMA',
    description: 'schema of the tables (default raftline)',
  },
  {
    path: 'store.poolSize',
    flag: '--store-pool-size <n>',
    env: 'RAFTLINE_STORE_POOL_SIZE',
    description: 'PostgreSQL connections shared by the groups (default 8)',
  },
  {
    path: 'metrics.port',
    flag: '--metrics-port <port>',
    env: 'RAFTLINE_METRICS_PORT',
    description: '/metrics, /healthz, /readyz port (default 9464; 0: any free port)',
  },
  {
    path: 'metrics.host',
    flag: '--metrics-host <host>',
    env: 'RAFTLINE_METRICS_HOST',
    description: 'address the metrics server listens on (default 127.0.0.1)',
  },
  {
    path: 'metrics.enabled',
    flag: '--metrics-enabled <bool>',
    env: 'RAFTLINE_METRICS_ENABLED',
    description: 'serve metrics and health (default true)',
  },
  {
    path: 'metrics.readyMaxLagEntries',
    flag: '--ready-max-lag <entries>',
    env: 'RAFTLINE_READY_MAX_LAG',
    description: '/readyz: most committed entries not yet applied (default 1000)',
  },
  {
    path: 'metrics.dashboard',
    flag: '--dashboard',
    env: 'RAFTLINE_DASHBOARD',
    description:
      "serve the dashboard page of this process's groups at / of the metrics server (default false)",
  },
  {
    path: 'log.level',
    flag: '--log-level <level>',
    env: 'RAFTLINE_LOG_LEVEL',
    description: 'log level (default info)',
  },
  {
    path: 'log.pretty',
    flag: '--pretty',
    env: 'RAFTLINE_LOG_PRETTY',
    description: 'human-readable logs instead of JSON',
  },
  {
    path: 'raft.electionTimeoutMs',
    flag: '--election-timeout-ms <ms>',
    env: 'RAFTLINE_ELECTION_TIMEOUT_MS',
    description: 'election timeout (default 1000)',
  },
  {
    path: 'raft.heartbeatMs',
    flag: '--heartbeat-ms <ms>',
    env: 'RAFTLINE_HEARTBEAT_MS',
    description: 'leader heartbeat interval (default 100)',
  },
  {
    path: 'raft.proposalTimeoutMs',
    flag: '--proposal-timeout-ms <ms>',
    env: 'RAFTLINE_PROPOSAL_TIMEOUT_MS',
    description: 'how long a command may take to apply (default 5000)',
  },
  {
    path: 'raft.snapshotEntries',
    flag: '--snapshot-entries <n>',
    env: 'RAFTLINE_SNAPSHOT_ENTRIES',
    description: 'snapshot after this many applied entries (default 10000; 0: never by count)',
  },
  {
    path: 'raft.snapshotBytes',
    flag: '--snapshot-bytes <n>',
    env: 'RAFTLINE_SNAPSHOT_BYTES',
    description: 'snapshot after this many applied bytes (default 64 MiB; 0: never by size)',
  },
  {
    path: 'raft.snapshotLogRatio',
    flag: '--snapshot-log-ratio <r>',
    env: 'RAFTLINE_SNAPSHOT_LOG_RATIO',
    description: "and once the log since the last snapshot holds r × its size (default 1; 0: don't wait)",
  },
  {
    path: 'raft.verifyEveryEntries',
    flag: '--verify-every <n>',
    env: 'RAFTLINE_VERIFY_EVERY',
    description: 'verify consistency after every n commands (default 0: off)',
  },
  {
    path: 'raft.maxPendingProposals',
    flag: '--max-pending-proposals <n>',
    env: 'RAFTLINE_MAX_PENDING_PROPOSALS',
    description: 'proposals that may wait to apply before OverloadedError (default 1024)',
  },
  {
    path: 'clients.maxInFlightPerClient',
    flag: '--max-in-flight-per-client <n>',
    env: 'RAFTLINE_MAX_IN_FLIGHT_PER_CLIENT',
    description: "one client connection's requests served at once before OverloadedError (default 1024)",
  },
  {
    path: 'startup.waitMs',
    flag: '--startup-wait-ms <ms>',
    env: 'RAFTLINE_STARTUP_WAIT_MS',
    description:
      'how long a start retries while NATS or the store cannot be reached (default 30000; 0: no retry)',
  },
  {
    path: 'shutdown.drainTimeoutMs',
    flag: '--drain-timeout-ms <ms>',
    env: 'RAFTLINE_DRAIN_TIMEOUT_MS',
    description: 'on SIGTERM, how long commands in flight may take (default 5000)',
  },
  {
    path: 'machine',
    flag: '--machine <service|module>',
    env: 'RAFTLINE_MACHINE',
    description:
      'task-queue, feature-flags, coordinator, or a module exporting a ReplicatedStateMachine class',
    scope: 'group',
  },
  {
    path: 'export',
    flag: '--export <name>',
    env: 'RAFTLINE_EXPORT',
    description: "the module's export holding the machine class",
    scope: 'group',
  },
  {
    path: 'voters',
    flag: '--voters <ids>',
    env: 'RAFTLINE_VOTERS',
    description: "the group's voters at bootstrap, comma-separated",
    scope: 'group',
  },
  {
    path: 'join',
    flag: '--join <voter|learner>',
    env: 'RAFTLINE_JOIN',
    description: "start outside the configuration and ask the group's leader to add this node",
    scope: 'group',
  },
];

/** The group the group-scoped settings apply to. */
export const GROUP_SETTING = {
  flag: '--group <name>',
  env: 'RAFTLINE_GROUP',
  description: 'the group that --machine, --voters, --join apply to (created if the file has none)',
} as const;

/** What load() is given: the file (if any), the environment, and flag values by setting path. */
export interface ServeSources {
  readonly file?: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Flag values by ServeSetting.path (and 'group' for --group). */
  readonly flags: Readonly<Record<string, string | boolean | undefined>>;
  readonly cwd: string;
}

/**
 * Reads the file, applies the environment, then the flags, and validates.
 * @returns the configuration
 * @throws ConfigError for a file that cannot be read or parsed, and for
 *   every bad field (naming the variable or flag a value came from)
 */
export function loadServeConfig(sources: ServeSources): ServeConfig {
  const file = sources.file && resolve(sources.cwd, sources.file);
  const raw = file ? readConfigFile(file) : {};
  const origins = new Map<string, string>();
  const problems: string[] = [];

  const flagName = (s: { flag: string }): string => s.flag.split(' ')[0]!;
  const groupFromFlag = sources.flags.group;
  const group =
    (typeof groupFromFlag === 'string' ? groupFromFlag : undefined) ??
    sources.env[GROUP_SETTING.env] ??
    onlyGroup(raw);

  const layers: [string, (s: ServeSetting) => string | boolean | undefined][] = [
    ['env', (s) => sources.env[s.env]],
    ['flag', (s) => sources.flags[s.path]],
  ];
  for (const [kind, valueOf] of layers) {
    for (const s of SERVE_SETTINGS) {
      const value = valueOf(s);
      if (value === undefined) continue;
      const origin = kind === 'env' ? s.env : flagName(s);
      if (s.scope === 'group') {
        if (!group) {
          problems.push(`${origin} needs a group: pass --group (or ${GROUP_SETTING.env})${groupsHint(raw)}`);
          continue;
        }
        setPath(raw, ['groups', group, s.path], value);
        origins.set(`groups.${group}.${s.path}`, origin);
      } else if (s.path === 'store') {
        const current = raw.store;
        const rest = current && typeof current === 'object' && !Array.isArray(current) ? current : {};
        const { postgres: _p, dataDir: _d, memory: _m, ...kept } = rest as Record<string, unknown>;
        raw.store = { ...kept, ...storeShorthand(String(value)) };
        for (const key of ['store.postgres', 'store.dataDir', 'store.memory']) origins.set(key, origin);
      } else {
        setPath(raw, s.path.split('.'), value);
        origins.set(s.path, origin);
      }
    }
  }
  if (group && (raw.groups === undefined || raw.groups === null)) raw.groups = {};
  if (group) {
    const groups = raw.groups as Record<string, unknown>;
    if (groups && typeof groups === 'object' && groups[group] === undefined) groups[group] = {};
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return validateServeConfig(raw, {
    baseDir: file ? dirname(file) : sources.cwd,
    source: file ?? 'the command line',
    origins,
  });
}

/**
 * Parses a config file: JSON for `.json`, YAML otherwise.
 * @throws ConfigError naming the file and the first parse error, on one line
 */
export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([
      `config file ${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    ]);
  }
  let value: unknown;
  try {
    value = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    const first = ((err as Error).message.split('\n')[0] ?? '').replace(/:\s*$/, '');
    throw new ConfigError([
      `config file ${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${first}`,
    ]);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError([
      `config file ${file} must hold a mapping of settings (got ${Array.isArray(value) ? 'a list' : typeof value})`,
    ]);
  }
  return value as Record<string, unknown>;
}

function onlyGroup(raw: Record<string, unknown>): string | undefined {
  const groups = raw.groups;
  if (!groups || typeof groups !== 'object' || Array.isArray(groups)) return undefined;
  const names = Object.keys(groups);
  return names.length === 1 ? names[0] : undefined;
}

function groupsHint(raw: Record<string, unknown>): string {
  const groups = raw.groups;
  if (!groups || typeof groups !== 'object') return '';
  const names = Object.keys(groups);
  return names.length > 1 ? `; the file has several: ${names.join(', ')}` : '';
}

/** Sets the value at a path of keys, creating mappings on the way (and replacing a non-mapping in the way). */
function setPath(target: Record<string, unknown>, keys: readonly string[], value: unknown): void {
  let at = target;
  for (const key of keys.slice(0, -1)) {
    const next = at[key];
    if (!next || typeof next !== 'object' || Array.isArray(next)) at[key] = {};
    at = at[key] as Record<string, unknown>;
  }
  at[keys[keys.length - 1]!] = value;
}
