/**
 * Reads docker-compose.yml the way Compose does before it runs anything:
 * YAML with merge keys (`<<: *anchor`), then `${VAR}`, `${VAR:-default}`
 * and `$$` interpolated from an environment (the defaults, when none is set).
 */
import { readFileSync } from 'node:fs';
import { join, posix, resolve } from 'node:path';
import { parse } from 'yaml';

/** The repository root. */
export const ROOT = resolve(__dirname, '..', '..', '..');

/** One service of the compose file, as much of it as the tests read. */
export interface ComposeService {
  readonly image?: string;
  readonly build?: { context?: string; dockerfile?: string; target?: string } | string;
  readonly command?: string | string[];
  readonly environment?: Record<string, string | number | boolean | null> | string[];
  readonly volumes?: (string | { type?: string; source?: string; target?: string })[];
  readonly depends_on?: string[] | Record<string, { condition: string }>;
  readonly profiles?: string[];
  readonly ports?: (string | number)[];
  readonly [key: string]: unknown;
}

export interface ComposeFile {
  readonly services: Record<string, ComposeService>;
  readonly volumes?: Record<string, unknown>;
  readonly [key: string]: unknown;
}

/** An interpolation Compose would refuse: `${VAR:?message}` unset, or a malformed `${`. */
export class InterpolationError extends Error {
  override readonly name = 'InterpolationError';
}

/**
 * Replaces `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?err}` and `$VAR` in a string; `$$` is a `$`.
 * @throws InterpolationError for an unset required variable or an unclosed `${`
 */
export function interpolate(text: string, env: Readonly<Record<string, string | undefined>>): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== '$') {
      out += c;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i++;
    } else if (next === '{') {
      const end = text.indexOf('}', i);
      if (end < 0) throw new InterpolationError(`unclosed \${ in ${JSON.stringify(text)}`);
      const body = text.slice(i + 2, end);
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])(.*))?$/s.exec(body);
      if (!m) throw new InterpolationError(`bad substitution \${${body}}`);
      const [, name, op, arg = ''] = m;
      const value = env[name!];
      const unset = op?.startsWith(':') ? !value : value === undefined;
      if (op?.endsWith('?') && unset) throw new InterpolationError(`${name} is required: ${arg}`);
      out += unset && op?.endsWith('-') ? arg : (value ?? '');
      i = end;
    } else {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 1));
      if (!m) {
        out += c;
        continue;
      }
      out += env[m[0]] ?? '';
      i += m[0].length;
    }
  }
  return out;
}

function interpolateDeep(value: unknown, env: Readonly<Record<string, string | undefined>>): unknown {
  if (typeof value === 'string') return interpolate(value, env);
  if (Array.isArray(value)) return value.map((v) => interpolateDeep(v, env));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateDeep(v, env)]));
  }
  return value;
}

/**
 * Parses a compose file (merge keys resolved) and interpolates it.
 * @returns the compose model
 * @throws what the YAML parser throws, InterpolationError
 */
export function loadCompose(
  file = join(ROOT, 'docker-compose.yml'),
  env: Readonly<Record<string, string | undefined>> = {},
): ComposeFile {
  const raw: unknown = parse(readFileSync(file, 'utf8'), { merge: true });
  return interpolateDeep(raw, env) as ComposeFile;
}

/** A service's environment as a map (the list form `KEY=value` too). */
export function environmentOf(service: ComposeService): Record<string, string> {
  const env = service.environment;
  if (!env) return {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((line) => {
        const at = line.indexOf('=');
        return at < 0 ? [line, ''] : [line.slice(0, at), line.slice(at + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

/** A service's command as a list of arguments (a string is split on whitespace, as Compose does without quotes). */
export function commandOf(service: ComposeService): string[] {
  const cmd = service.command;
  if (cmd === undefined) return [];
  return Array.isArray(cmd) ? cmd.map(String) : cmd.trim().split(/\s+/);
}

/** A bind mount: a host path (absolute, resolved against the repository root) into the container. */
export interface BindMount {
  readonly host: string;
  readonly container: string;
  readonly readOnly: boolean;
}

/** The service's bind mounts (a named volume's source is no path, and is left out). */
export function bindMountsOf(service: ComposeService): BindMount[] {
  const mounts: BindMount[] = [];
  for (const v of service.volumes ?? []) {
    if (typeof v === 'string') {
      const [source = '', target = '', mode = ''] = v.split(':');
      if (!source.startsWith('.') && !source.startsWith('/')) continue;
      mounts.push({
        host: resolve(ROOT, source),
        container: target,
        readOnly: mode.split(',').includes('ro'),
      });
    } else if (v.type === 'bind' && v.source && v.target) {
      mounts.push({ host: resolve(ROOT, v.source), container: v.target, readOnly: false });
    }
  }
  return mounts;
}

/**
 * Maps a path inside the container to the host file a bind mount puts there.
 * @returns the host path, or undefined when no bind mount covers it
 */
export function hostPathOf(service: ComposeService, containerPath: string): string | undefined {
  let best: BindMount | undefined;
  for (const m of bindMountsOf(service)) {
    const covers = containerPath === m.container || containerPath.startsWith(`${m.container}/`);
    if (covers && (!best || m.container.length > best.container.length)) best = m;
  }
  if (!best) return undefined;
  return join(best.host, posix.relative(best.container, containerPath));
}

/** The names of the services a service depends on. */
export function dependenciesOf(service: ComposeService): string[] {
  const d = service.depends_on;
  if (!d) return [];
  return Array.isArray(d) ? d : Object.keys(d);
}
