/**
 * What `raftline serve` runs, as validated: the settings of the process
 * (node id, cluster, NATS, store, metrics, logs, shutdown) and of each Raft
 * group it serves. validateServeConfig turns a parsed file (with the
 * environment and flags merged in, see load.ts) into a ServeConfig, or
 * throws one ConfigError naming every bad field.
 */
import { isAbsolute, resolve } from 'node:path';
import {
  ConfigError,
  resolveNodeConfig,
  type KnownKeys,
  type MachineHostOptions,
  type NodeConfig,
} from '@raftline/core';
import { checkToken } from '@raftline/transport-nats';
import { FieldReader, show, type Origins } from './fields';

export interface NatsSettings {
  /** Server URLs (nats://host:port or host:port). */
  readonly servers: readonly string[];
  readonly user?: string;
  readonly password?: string;
  readonly token?: string;
  /** A credentials file (JWT and NKey seed). */
  readonly creds?: string;
  /** The HMAC key every Raft frame of the cluster is authenticated with. */
  readonly clusterKey?: string;
  /**
   * Raft traffic (transport, liveness, admin) on a NATS connection of its
   * own, apart from client requests, the mirror and discovery, so that a
   * client flood cannot delay heartbeats (default true; see serve/connections.ts).
   */
  readonly separateRaftConnection: boolean;
}

export type StoreSettings =
  | {
      readonly kind: 'postgres';
      readonly url: string;
      readonly schema: string;
      readonly poolSize: number;
      readonly synchronousCommit: 'on' | 'off';
    }
  | { readonly kind: 'embedded'; readonly dataDir: string; readonly schema: string }
  | { readonly kind: 'memory' };

export interface MetricsSettings {
  /** Serve /metrics, /healthz and /readyz (default true). */
  readonly enabled: boolean;
  readonly host: string;
  /** 0 picks a free port (logged at start). */
  readonly port: number;
  /** /readyz: at most this many committed entries not yet applied. */
  readonly readyMaxLagEntries: number;
  /** Serve the dashboard page of this process's groups at / (default false; needs enabled). */
  readonly dashboard: boolean;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LogSettings {
  readonly level: LogLevel;
  /** Human-readable lines instead of JSON. */
  readonly pretty: boolean;
}

export interface ShutdownSettings {
  /** On SIGTERM: how long client commands in flight may take to finish before the replicas stop. */
  readonly drainTimeoutMs: number;
  /** On SIGTERM: how long the whole shutdown may take before the process exits anyway (code 1). */
  readonly timeoutMs: number;
}

/** How many client requests a replica serves at once (serveClients' bounds); past one, OverloadedError. */
export interface ClientSettings {
  /** Requests of one client connection in flight on this replica (default 1024). */
  readonly maxInFlightPerClient: number;
  /** Requests of all clients in flight on this replica, per group (default 8192). */
  readonly maxInFlight: number;
}

export const JOIN_MODES = ['voter', 'learner'] as const;
export type JoinMode = (typeof JOIN_MODES)[number];

export interface GroupSettings {
  /** The group's name: a NATS subject token, and the store's group id. */
  readonly name: string;
  /** A service name (task-queue, feature-flags, coordinator) or a module path, made absolute. */
  readonly machine: string;
  /** The module's export holding the class (default: the one ReplicatedStateMachine subclass it exports). */
  readonly export?: string;
  /** Passed to the machine's constructor. */
  readonly options?: Readonly<Record<string, unknown>>;
  /** The group's voters at bootstrap, this node among them (empty with join). */
  readonly voters: readonly string[];
  /** Start outside the configuration and ask the group's leader to add this node. */
  readonly join?: JoinMode;
  /** NodeConfig: the process-wide `raft` settings, then the group's own. */
  readonly raft: Partial<NodeConfig>;
  /** MachineHost options (client sessions). */
  readonly sessions?: MachineHostOptions;
  /** Mirror the committed commands into JetStream (default true; `raftline tail` reads it). */
  readonly mirror: boolean;
  /** A module path whose bindings replace the replica's parts (see README, "Your own bindings"). */
  readonly bindings?: string;
}

export interface ServeConfig {
  /** Where the settings came from, for messages: the file's path, or 'the command line'. */
  readonly source: string;
  readonly node: string;
  readonly cluster: string;
  readonly nats: NatsSettings;
  readonly store: StoreSettings;
  readonly metrics: MetricsSettings;
  readonly log: LogSettings;
  readonly shutdown: ShutdownSettings;
  readonly clients: ClientSettings;
  readonly groups: readonly GroupSettings[];
}

/** The defaults, in one place. */
export const SERVE_DEFAULTS = {
  cluster: 'raftline',
  natsServers: ['127.0.0.1:4222'],
  schema: 'raftline',
  poolSize: 8,
  metricsHost: '127.0.0.1',
  metricsPort: 9464,
  readyMaxLagEntries: 1000,
  logLevel: 'info' as LogLevel,
  drainTimeoutMs: 5000,
  shutdownTimeoutMs: 20_000,
  maxInFlightPerClient: 1024,
  maxInFlight: 8192,
  separateRaftConnection: true,
} as const;

/** The keys of each section of the file, for unknown-key problems. */
const TOP_KEYS = {
  node: true,
  cluster: true,
  nats: true,
  store: true,
  metrics: true,
  log: true,
  raft: true,
  shutdown: true,
  clients: true,
  groups: true,
} as const;
const NATS_KEYS: KnownKeys<NatsSettings> = {
  servers: true,
  user: true,
  password: true,
  token: true,
  creds: true,
  clusterKey: true,
  separateRaftConnection: true,
};
const STORE_KEYS = {
  postgres: true,
  dataDir: true,
  memory: true,
  schema: true,
  poolSize: true,
  synchronousCommit: true,
};
const METRICS_KEYS: KnownKeys<MetricsSettings> = {
  enabled: true,
  host: true,
  port: true,
  readyMaxLagEntries: true,
  dashboard: true,
};
const LOG_KEYS: KnownKeys<LogSettings> = { level: true, pretty: true };
const SHUTDOWN_KEYS: KnownKeys<ShutdownSettings> = { drainTimeoutMs: true, timeoutMs: true };
const CLIENT_KEYS: KnownKeys<ClientSettings> = { maxInFlightPerClient: true, maxInFlight: true };
const GROUP_KEYS: KnownKeys<Omit<GroupSettings, 'name'>> = {
  machine: true,
  export: true,
  options: true,
  voters: true,
  join: true,
  raft: true,
  sessions: true,
  mirror: true,
  bindings: true,
};
const SESSION_KEYS: KnownKeys<MachineHostOptions> = {
  sessionTtlMs: true,
  maxSessions: true,
  maxResultsPerSession: true,
};

/** The service names `machine` may hold, and the package and class each stands for. */
export const SERVICES: Readonly<Record<string, { readonly package: string; readonly export: string }>> = {
  'task-queue': { package: '@raftline/task-queue', export: 'TaskQueue' },
  'feature-flags': { package: '@raftline/feature-flags', export: 'FeatureFlags' },
  coordinator: { package: '@raftline/coordinator', export: 'Coordinator' },
};

/**
 * Validates a configuration object.
 * @param raw the parsed file, environment and flags merged (load.ts)
 * @param options where the values came from
 * @param options.baseDir relative module paths and data directories resolve from here (the file's directory)
 * @param options.source the file's name (or 'the command line'), for messages
 * @param options.origins where values that did not come from the file were set
 * @returns the configuration with every default filled in
 * @throws ConfigError naming every bad field (and every unknown key, with the closest known one)
 */
export function validateServeConfig(
  raw: unknown,
  options: { baseDir: string; source: string; origins?: Origins },
): ServeConfig {
  const problems: string[] = [];
  const f = new FieldReader(problems, options.origins ?? new Map());
  const top = f.object(raw, options.source) ?? {};
  f.known(
    top,
    TOP_KEYS,
    options.source === 'the command line' ? 'the configuration' : `config file ${options.source}`,
  );

  const node = f.string(top.node, 'node', true);
  if (node !== undefined) token(problems, 'node', node);
  const cluster = f.string(top.cluster, 'cluster') ?? SERVE_DEFAULTS.cluster;
  token(problems, 'cluster', cluster);

  const nats = readNats(f, top.nats);
  const store = readStore(f, top.store, options.baseDir);
  const metrics = readMetrics(f, top.metrics);
  const log = readLog(f, top.log);
  const shutdown = readShutdown(f, top.shutdown);
  const clients = readClients(f, top.clients);
  const raft = readRaft(f, top.raft, 'raft');
  const origins = options.origins ?? new Map<string, string>();

  const groupsRaw = f.object(top.groups, 'groups');
  const groups: GroupSettings[] = [];
  if (!groupsRaw || Object.keys(groupsRaw).length === 0) {
    problems.push(
      'groups must name at least one group (a mapping of group name to its settings), or pass --group',
    );
  } else {
    for (const [name, value] of Object.entries(groupsRaw)) {
      const g = readGroup(f, name, value, { node, raft, baseDir: options.baseDir, origins });
      if (g) groups.push(g);
    }
  }
  if (problems.length > 0) throw new ConfigError([...new Set(problems)]);
  return {
    source: options.source,
    node: node!,
    cluster,
    nats,
    store,
    metrics,
    log,
    shutdown,
    clients,
    groups,
  };
}

function token(problems: string[], field: string, value: string): void {
  try {
    checkToken(field, value);
  } catch (err) {
    problems.push(`${field} (${show(value)}) must be one NATS subject token: ${(err as Error).message}`);
  }
}

function readNats(f: FieldReader, value: unknown): NatsSettings {
  const o = f.object(value, 'nats') ?? {};
  f.known(o, NATS_KEYS, 'nats');
  const servers = f.list(o.servers, 'nats.servers') ?? [...SERVE_DEFAULTS.natsServers];
  if (servers.length === 0) f.problem('nats.servers', o.servers, 'must name at least one server');
  const user = f.string(o.user, 'nats.user');
  const password = f.string(o.password, 'nats.password');
  const token = f.string(o.token, 'nats.token');
  const creds = f.string(o.creds, 'nats.creds');
  const clusterKey = f.string(o.clusterKey, 'nats.clusterKey');
  const separateRaftConnection =
    f.boolean(o.separateRaftConnection, 'nats.separateRaftConnection') ??
    SERVE_DEFAULTS.separateRaftConnection;
  if ((user === undefined) !== (password === undefined)) {
    f.problems.push('nats.user and nats.password must be set together');
  }
  const ways = [user && 'nats.user', token && 'nats.token', creds && 'nats.creds'].filter(Boolean);
  if (ways.length > 1) f.problems.push(`set one way to authenticate to NATS, not ${ways.join(' and ')}`);
  return {
    servers,
    ...(user !== undefined ? { user } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(token !== undefined ? { token } : {}),
    ...(creds !== undefined ? { creds } : {}),
    ...(clusterKey !== undefined ? { clusterKey } : {}),
    separateRaftConnection,
  };
}

/**
 * `store` is a string (a postgres:// URL, `memory`, or an embedded data
 * directory) or a mapping with exactly one of postgres, dataDir, memory.
 */
function readStore(f: FieldReader, value: unknown, baseDir: string): StoreSettings {
  const o: Record<string, unknown> =
    typeof value === 'string' ? storeShorthand(value) : (f.object(value, 'store') ?? {});
  f.known(o, STORE_KEYS, 'store');
  const kinds = (['postgres', 'dataDir', 'memory'] as const).filter(
    (k) => o[k] !== undefined && o[k] !== false,
  );
  if (kinds.length !== 1) {
    f.problems.push(
      `store must be exactly one of postgres (a URL), dataDir (embedded PGlite) or memory (got ${kinds.map((k) => `store.${k}`).join(', ') || 'none'})`,
    );
    return { kind: 'memory' };
  }
  const schema = f.string(o.schema, 'store.schema') ?? SERVE_DEFAULTS.schema;
  if (kinds[0] === 'memory') {
    f.boolean(o.memory, 'store.memory');
    return { kind: 'memory' };
  }
  if (kinds[0] === 'dataDir') {
    const dir = f.string(o.dataDir, 'store.dataDir', true);
    return { kind: 'embedded', dataDir: isAbsolute(dir ?? '') ? dir! : resolve(baseDir, dir ?? ''), schema };
  }
  const url = f.string(o.postgres, 'store.postgres', true) ?? '';
  if (url && !/^postgres(ql)?:\/\//.test(url)) {
    f.problem('store.postgres', url, 'must be a postgres:// or postgresql:// URL');
  }
  return {
    kind: 'postgres',
    url,
    schema,
    poolSize: f.integer(o.poolSize, 'store.poolSize', 1, 1000) ?? SERVE_DEFAULTS.poolSize,
    synchronousCommit: f.oneOf(o.synchronousCommit, 'store.synchronousCommit', ['on', 'off']) ?? 'on',
  };
}

/** `postgres://…` → postgres; `memory` → memory; anything else → an embedded data directory. */
export function storeShorthand(value: string): Record<string, unknown> {
  if (/^postgres(ql)?:\/\//.test(value)) return { postgres: value };
  if (value === 'memory') return { memory: true };
  return { dataDir: value };
}

function readMetrics(f: FieldReader, value: unknown): MetricsSettings {
  const o = f.object(value, 'metrics') ?? {};
  f.known(o, METRICS_KEYS, 'metrics');
  const enabled = f.boolean(o.enabled, 'metrics.enabled') ?? true;
  const dashboard = f.boolean(o.dashboard, 'metrics.dashboard') ?? false;
  if (dashboard && !enabled) {
    f.problem(
      'metrics.dashboard',
      o.dashboard,
      `needs metrics.enabled (${String(o.enabled)}): the page is served by the metrics server`,
    );
  }
  return {
    enabled,
    host: f.string(o.host, 'metrics.host') ?? SERVE_DEFAULTS.metricsHost,
    port: f.integer(o.port, 'metrics.port', 0, 65535) ?? SERVE_DEFAULTS.metricsPort,
    readyMaxLagEntries:
      f.integer(o.readyMaxLagEntries, 'metrics.readyMaxLagEntries', 0) ?? SERVE_DEFAULTS.readyMaxLagEntries,
    dashboard,
  };
}

function readLog(f: FieldReader, value: unknown): LogSettings {
  const o = f.object(value, 'log') ?? {};
  f.known(o, LOG_KEYS, 'log');
  return {
    level: f.oneOf(o.level, 'log.level', LOG_LEVELS) ?? SERVE_DEFAULTS.logLevel,
    pretty: f.boolean(o.pretty, 'log.pretty') ?? false,
  };
}

function readShutdown(f: FieldReader, value: unknown): ShutdownSettings {
  const o = f.object(value, 'shutdown') ?? {};
  f.known(o, SHUTDOWN_KEYS, 'shutdown');
  return {
    drainTimeoutMs:
      f.integer(o.drainTimeoutMs, 'shutdown.drainTimeoutMs', 0) ?? SERVE_DEFAULTS.drainTimeoutMs,
    timeoutMs: f.integer(o.timeoutMs, 'shutdown.timeoutMs', 1) ?? SERVE_DEFAULTS.shutdownTimeoutMs,
  };
}

function readClients(f: FieldReader, value: unknown): ClientSettings {
  const o = f.object(value, 'clients') ?? {};
  f.known(o, CLIENT_KEYS, 'clients');
  return {
    maxInFlightPerClient:
      f.integer(o.maxInFlightPerClient, 'clients.maxInFlightPerClient', 1) ??
      SERVE_DEFAULTS.maxInFlightPerClient,
    maxInFlight: f.integer(o.maxInFlight, 'clients.maxInFlight', 1) ?? SERVE_DEFAULTS.maxInFlight,
  };
}

/** A NodeConfig section: numbers from the environment or flags arrive as strings and are converted. */
function readRaft(f: FieldReader, value: unknown, path: string): Partial<NodeConfig> {
  const o = f.object(value, path) ?? {};
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(o)) {
    out[key] = typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v)) ? Number(v) : v;
    if (v === 'true' || v === 'false') out[key] = v === 'true';
  }
  return out as Partial<NodeConfig>;
}

/**
 * The raft settings' own problems (resolveNodeConfig's), each prefixed with
 * the path they are under, and a value that came from the environment or a
 * flag marked with where: `electionTimeoutMs (abc, from RAFTLINE_ELECTION_TIMEOUT_MS)`.
 */
function raftProblems(
  raft: Partial<NodeConfig>,
  path: string,
  originOf: (key: string) => string | undefined,
): string[] {
  try {
    resolveNodeConfig(raft);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.map((p) => {
      let text = p.replace(/^NodeConfig: /, '');
      for (const key of Object.keys(raft)) {
        const origin = originOf(key);
        if (origin) text = text.replace(new RegExp(`\\b${key} \\(([^)]*)\\)`), `${key} ($1, from ${origin})`);
      }
      return `${path}: ${text}`;
    });
  }
}

function readGroup(
  f: FieldReader,
  name: string,
  value: unknown,
  ctx: { node: string | undefined; raft: Partial<NodeConfig>; baseDir: string; origins: Origins },
): GroupSettings | undefined {
  const path = `groups.${name}`;
  token(f.problems, `group name ${path}`, name);
  const o = f.object(value, path) ?? {};
  f.known(o, GROUP_KEYS, path);
  const machine = f.string(o.machine, `${path}.machine`, true);
  const exportName = f.string(o.export, `${path}.export`);
  const options = f.object(o.options, `${path}.options`);
  const join =
    o.join === true ? 'voter' : o.join === false ? undefined : f.oneOf(o.join, `${path}.join`, JOIN_MODES);
  const voters = f.list(o.voters, `${path}.voters`) ?? [];
  if (join && voters.length > 0) {
    f.problems.push(
      `${path}.voters and ${path}.join must not both be set: a joining node starts outside the configuration`,
    );
  }
  if (!join) {
    if (voters.length === 0) {
      f.problems.push(
        `${path}.voters must list the group's voters (this node among them), or set ${path}.join`,
      );
    } else if (ctx.node !== undefined && !voters.includes(ctx.node)) {
      f.problems.push(
        `${path}.voters (${voters.join(',')}) must include this node (${ctx.node}), or set ${path}.join`,
      );
    }
  }
  for (const v of voters) token(f.problems, `${path}.voters`, v);
  if (new Set(voters).size !== voters.length)
    f.problem(`${path}.voters`, voters.join(','), 'must not repeat a node');
  const own = readRaft(f, o.raft, `${path}.raft`);
  const raft = { ...ctx.raft, ...own };
  const raftOrigin = (key: string): string | undefined =>
    ctx.origins.get(key in own ? `${path}.raft.${key}` : `raft.${key}`);
  f.problems.push(...raftProblems(raft, o.raft === undefined ? 'raft' : `${path}.raft`, raftOrigin));
  const sessionsRaw = f.object(o.sessions, `${path}.sessions`);
  f.known(sessionsRaw, SESSION_KEYS, `${path}.sessions`);
  // Each is an integer of at least 1; an absent one keeps MachineHost's default.
  const sessions: MachineHostOptions | undefined =
    sessionsRaw &&
    Object.fromEntries(
      Object.keys(SESSION_KEYS)
        .filter((key) => sessionsRaw[key] !== undefined)
        .map((key) => [key, f.integer(sessionsRaw[key], `${path}.sessions.${key}`, 1)]),
    );
  const bindings = f.string(o.bindings, `${path}.bindings`);
  if (machine === undefined) return undefined;
  return {
    name,
    machine: SERVICES[machine] ? machine : resolveModule(machine, ctx.baseDir),
    ...(exportName !== undefined ? { export: exportName } : {}),
    ...(options ? { options } : {}),
    voters,
    ...(join ? { join } : {}),
    raft,
    ...(sessions ? { sessions } : {}),
    mirror: f.boolean(o.mirror, `${path}.mirror`) ?? true,
    ...(bindings !== undefined ? { bindings: resolveModule(bindings, ctx.baseDir) } : {}),
  };
}

/** A relative module path resolves from the config file's directory; a package name stays as it is. */
function resolveModule(spec: string, baseDir: string): string {
  return spec.startsWith('.') || isAbsolute(spec) ? resolve(baseDir, spec) : spec;
}
