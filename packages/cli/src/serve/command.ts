/** The `raftline serve` command: load and validate the configuration, start, and stop on SIGTERM/SIGINT. */
import { Option, type Command } from 'commander';
import { GROUP_SETTING, loadServeConfig, SERVE_SETTINGS } from '../config/load';
import type { ServeConfig } from '../config/schema';
import { createLogger } from '../logging';
import { print } from '../output';
import { createMachine } from './machine';
import { startServe } from './serve';

/** Declares serve's options: -c, --group, --check and one flag per SERVE_SETTINGS entry. */
export function serveOptions(cmd: Command): Map<string, Option> {
  cmd.option('-c, --config <file>', 'the config file (YAML or JSON)');
  cmd.option(GROUP_SETTING.flag, `${GROUP_SETTING.description} [env: ${GROUP_SETTING.env}]`);
  cmd.option('--check', 'validate the configuration (and load each machine), print it, and exit');
  const byPath = new Map<string, Option>();
  for (const s of SERVE_SETTINGS) {
    const option = new Option(s.flag, `${s.description} [env: ${s.env}]`);
    cmd.addOption(option);
    byPath.set(s.path, option);
  }
  return byPath;
}

/** Reads the configuration from the parsed options, the environment and the file. */
export function configFrom(opts: Record<string, unknown>, byPath: Map<string, Option>): ServeConfig {
  const flags: Record<string, string | boolean | undefined> = {
    group: opts.group as string | undefined,
  };
  for (const [path, option] of byPath) {
    flags[path] = opts[option.attributeName()] as string | boolean | undefined;
  }
  return loadServeConfig({
    ...(typeof opts.config === 'string' ? { file: opts.config } : {}),
    env: process.env,
    flags,
    cwd: process.cwd(),
  });
}

/**
 * Runs serve until a signal stops it: SIGTERM or SIGINT shuts down
 * gracefully and exits 0 (1 if it takes longer than shutdown.timeoutMs); a
 * second signal exits 1 at once. A replica that halts (its storage lost
 * entries it had acknowledged: StateLostError) stops the process with exit 1.
 * @throws what startServe throws (the caller prints it on one line)
 */
export async function serveCommand(config: ServeConfig, check: boolean): Promise<void> {
  if (check) {
    for (const g of config.groups) createMachine(g);
    print(JSON.stringify(redact(config), null, 2));
    return;
  }
  const logger = createLogger(config.log, { node: config.node });
  const server = await startServe(config, logger);
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without finishing the shutdown');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs: config.shutdown.timeoutMs }, 'shutdown took longer than shutdown.timeoutMs');
      process.exit(1);
    }, config.shutdown.timeoutMs);
    server.close().then(
      () => {
        clearTimeout(timer);
        logger.info({}, 'raftline serve stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  // A replica that halted cannot serve safely until an operator acts: exit 1, loudly.
  void server.halted.then(({ group, cause }) => {
    logger.fatal({ group, err: cause }, 'a replica halted: stopping the others and exiting 1');
    if (stopping) return;
    stopping = true;
    const exit = () => process.exit(1);
    setTimeout(exit, config.shutdown.timeoutMs).unref();
    server.close().then(exit, exit);
  });
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception');
    process.exit(1);
  });
}

/** The configuration with its secrets replaced by '***', for --check. */
function redact(config: ServeConfig): ServeConfig {
  const hide = (v: string | undefined): string | undefined => (v === undefined ? undefined : '***');
  const nats = {
    ...config.nats,
    ...(config.nats.password !== undefined ? { password: hide(config.nats.password) } : {}),
    ...(config.nats.token !== undefined ? { token: hide(config.nats.token) } : {}),
    ...(config.nats.clusterKey !== undefined ? { clusterKey: hide(config.nats.clusterKey) } : {}),
  };
  const store =
    config.store.kind === 'postgres'
      ? { ...config.store, url: config.store.url.replace(/:[^:@/]*@/, ':***@') }
      : config.store;
  return { ...config, nats: nats as ServeConfig['nats'], store };
}
