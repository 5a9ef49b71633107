/**
 * A user's own bindings for a group's replica (groups.<name>.bindings): a
 * module whose `bindings` (or default) export is an inversify
 * ContainerModule, or a function called with the container and the group.
 * What it binds (RAFTLINE.Logger, .Clock, .LogStore, …) replaces the
 * default that `raftline serve` assembled; see the README.
 */
import { ConfigError } from '@raftline/core';
import type { Container, ContainerModule } from '@raftline/core/inversify';

/** What a bindings function is told about the replica it binds for. */
export interface BindingsContext {
  readonly cluster: string;
  readonly group: string;
  readonly node: string;
}

/** The shape of a bindings function. */
export type BindingsFunction = (container: Container, context: BindingsContext) => void | Promise<void>;

/**
 * Loads the module and applies its bindings to the container.
 * @throws ConfigError naming groups.<group>.bindings when the module cannot
 *   be loaded or exports neither a ContainerModule nor a function
 */
export async function applyBindings(
  container: Container,
  spec: string,
  context: BindingsContext,
): Promise<void> {
  const field = `groups.${context.group}.bindings`;
  let mod: Record<string, unknown>;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(spec) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError([
      `${field} (${spec}): cannot load the module: ${(err as Error).message.split('\n')[0]}`,
    ]);
  }
  const value = mod.bindings ?? mod.default;
  if (isContainerModule(value)) {
    container.loadSync(value);
  } else if (typeof value === 'function') {
    await (value as BindingsFunction)(container, context);
  } else {
    throw new ConfigError([
      `${field} (${spec}): the module must export \`bindings\` (or a default export): an inversify ContainerModule or a function (container, { cluster, group, node })`,
    ]);
  }
}

/** A ContainerModule of any copy of inversify (a module may bring its own). */
function isContainerModule(value: unknown): value is ContainerModule {
  return (
    typeof value === 'object' && value !== null && typeof (value as { load?: unknown }).load === 'function'
  );
}
