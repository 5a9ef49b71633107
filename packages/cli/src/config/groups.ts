/**
 * The groups of a `raftline serve` configuration: each group's settings
 * (its machine, voters or join mode, its raft and session settings), as
 * validateServeConfig (schema.ts) reads them, and the NATS-token rule that
 * names, nodes and voters follow.
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
import { show, type FieldReader, type Origins } from './fields';

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

export function token(problems: string[], field: string, value: string): void {
  try {
    checkToken(field, value);
  } catch (err) {
    problems.push(`${field} (${show(value)}) must be one NATS subject token: ${(err as Error).message}`);
  }
}

/** A NodeConfig section: numbers from the environment or flags arrive as strings and are converted. */
export function readRaft(f: FieldReader, value: unknown, path: string): Partial<NodeConfig> {
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

export function readGroup(
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
