/**
 * What `raftline serve` runs, as validated: the settings of the process
 * (node id, cluster, NATS, store, metrics, logs, startup, shutdown) and of each Raft
 * group it serves. validateServeConfig turns a parsed file (with the
 * environment and flags merged in, see load.ts) into a ServeConfig, or
 * throws one ConfigError naming every bad field.
 */
import { isAbsolute, resolve } from 'node:path';
import { ConfigError, type KnownKeys } from '@raftline/core';
import { FieldReader, type Origins } from './fields';
import { readGroup, readRaft, token, type GroupSettings } from './groups';

export { JOIN_MODES, SERVICES, type GroupSettings, type JoinMode } from './groups';

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

export interface StartupSettings {
  /**
   * How long a start may keep retrying while NATS or the store cannot be
   * reached yet (connection refused, a database starting up), before
   * `raftline serve` gives up with the last error (0: at once).
   */
  readonly waitMs: number;
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

export interface ServeConfig {
  /** Where the settings came from, for messages: the file's path, or 'the command line'. */
  readonly source: string;
  readonly node: string;
  readonly cluster: string;
  readonly nats: NatsSettings;
  readonly store: StoreSettings;
  readonly metrics: MetricsSettings;
  readonly log: LogSettings;
  readonly startup: StartupSettings;
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
  startupWaitMs: 30_000,
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
  startup: true,
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
const STARTUP_KEYS: KnownKeys<StartupSettings> = { waitMs: true };
const SHUTDOWN_KEYS: KnownKeys<ShutdownSettings> = { drainTimeoutMs: true, timeoutMs: true };
const CLIENT_KEYS: KnownKeys<ClientSettings> = { maxInFlightPerClient: true, maxInFlight: true };
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
  const startup = readStartup(f, top.startup);
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
    startup,
    shutdown,
    clients,
    groups,
  };
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

function readStartup(f: FieldReader, value: unknown): StartupSettings {
  const o = f.object(value, 'startup') ?? {};
  f.known(o, STARTUP_KEYS, 'startup');
  return { waitMs: f.integer(o.waitMs, 'startup.waitMs', 0) ?? SERVE_DEFAULTS.startupWaitMs };
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
