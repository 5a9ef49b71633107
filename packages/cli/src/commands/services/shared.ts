/**
 * What the per-service commands (queue, flags, coord) share: building the
 * commander tree, calling a service's commands and queries by name through
 * the untyped client (the CLI does not depend on the service packages:
 * names and argument shapes follow services/*\/src), reading JSON
 * arguments, and turning a service's refusal values into exit codes.
 */
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { Option, type Command } from 'commander';
import type { ReadConsistency } from '@raftline/core';
import { CommandExit, EXIT, UsageError } from '../../errors';
import { client, CONSISTENCIES } from '../call';
import { targetOptions, withConnection, type Target, type TargetFlags } from '../common';

/** The options of a command that reads (a query). */
export interface ReadFlags extends TargetFlags {
  readonly consistency: ReadConsistency;
}

/** A `raftline <noun>` command holding subcommands; --help on it lists them. */
export function noun(root: Command, name: string, description: string): Command {
  return root.command(name).description(description).exitOverride();
}

/** A subcommand acting on a group: the target options, commander's errors thrown rather than exiting. */
export function verb(parent: Command, name: string, description: string): Command {
  return targetOptions(parent.command(name).description(description)).exitOverride();
}

/** A subcommand that reads: a verb with --consistency. */
export function reader(parent: Command, name: string, description: string): Command {
  return verb(parent, name, description).addOption(
    new Option('--consistency <level>', 'how fresh the read must be')
      .choices(CONSISTENCIES)
      .default('linearizable'),
  );
}

/** A connected session with the group: its commands and queries by name. */
export interface ServiceCalls {
  /**
   * Proposes a command (no client session: an attempt whose outcome is unknown is not resent).
   * @returns the handler's result
   * @throws RemoteCommandError (refused, or the handler threw), OutcomeUnknownError, LeaderUnavailableError
   */
  command<T>(name: string, ...args: unknown[]): Promise<T>;
  /**
   * Runs a query at the command's consistency.
   * @returns the handler's result
   * @throws RemoteCommandError, ReadNotConfirmedError
   */
  query<T>(name: string, ...args: unknown[]): Promise<T>;
}

/**
 * Runs fn with the group's commands and queries, over one NATS connection closed after.
 * @returns what fn returns
 */
export function withService<T>(
  target: Target,
  consistency: ReadConsistency,
  fn: (calls: ServiceCalls) => Promise<T>,
): Promise<T> {
  return withConnection(target, async (nc) => {
    const c = client(nc, target);
    return fn({
      command: async <R>(name: string, ...args: unknown[]) =>
        (await c.submit({ name, args }, { timeoutMs: target.timeoutMs })).value as R,
      query: async <R>(name: string, ...args: unknown[]) =>
        (await c.query({ name, args }, { consistency, timeoutMs: target.timeoutMs })).value as R,
    });
  });
}

/**
 * Who a human operation or a flag write is by: --by/--author, else
 * RAFTLINE_USER, else the OS user name.
 */
export function whoAmI(given: string | undefined): string {
  if (given !== undefined) return given;
  if (process.env.RAFTLINE_USER) return process.env.RAFTLINE_USER;
  try {
    return userInfo().username || 'raftline-cli';
  } catch {
    return 'raftline-cli';
  }
}

/**
 * Reads a JSON argument: the JSON text itself, `@path` for a file's
 * contents, or `-` for standard input.
 * @returns the parsed value
 * @throws UsageError naming `what` when the file cannot be read or the text is not JSON
 */
export function jsonArgument(text: string, what: string): unknown {
  let source = text;
  if (text === '-' || text.startsWith('@')) {
    const path = text === '-' ? 0 : text.slice(1);
    try {
      source = readFileSync(path, 'utf8');
    } catch (err) {
      throw new UsageError(
        `${what}: cannot read ${text === '-' ? 'standard input' : path}: ${(err as Error).message}`,
      );
    }
  }
  try {
    return JSON.parse(source) as unknown;
  } catch (err) {
    const shown = source.length > 40 ? `${source.slice(0, 37)}...` : source;
    throw new UsageError(`${what} (${shown.trim()}) must be JSON: ${(err as Error).message}`);
  }
}

/**
 * Parses a flag that must be an integer of at least min (a delay, a version).
 * @returns the number, or undefined when the flag was not given
 * @throws UsageError naming the flag
 */
export function integerFlag(value: string | undefined, flag: string, min = 0): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) {
    const bound = min === -Infinity ? '' : ` of at least ${min}`;
    throw new UsageError(`${flag} (${value}) must be an integer${bound}`);
  }
  return n;
}

/** A result value a service returns for a refused operation (coordinator Refusal, task-queue Fenced). */
interface RefusalValue {
  readonly ok: false;
  readonly error: string;
  readonly message?: string;
}

/**
 * Throws the service's refusal as a one-line failure (exit 1): `StaleEpochError: …`.
 * @throws CommandExit with EXIT.failed when value is a refusal ({ ok: false, error })
 */
export function failOnRefusal(value: unknown): void {
  const r = value as Partial<RefusalValue> | null;
  if (r && typeof r === 'object' && r.ok === false && typeof r.error === 'string') {
    throw new CommandExit(EXIT.failed, `${r.error}: ${r.message ?? 'refused'}`);
  }
}

/** A replicated time (ms since the epoch) as an ISO date, or '-' for none. */
export function isoTime(ms: number | null | undefined): string {
  return typeof ms === 'number' && ms > 0 ? new Date(ms).toISOString() : '-';
}

/** Shortens text to at most max characters for a table cell. */
export function cell(text: string | null | undefined, max = 40): string {
  if (text === null || text === undefined || text === '') return '-';
  const one = text.replace(/\s+/g, ' ');
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}
