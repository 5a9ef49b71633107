import { readFileSync } from 'node:fs';
import { ConfigError } from '@raftline/core';
import { natsCoreModule, type NodeConnectionOptions } from './nats';

/**
 * The connection option that authenticates with a NATS credentials file
 * (a user JWT and its NKey seed, as `nsc` writes and `nats --creds` reads),
 * for connectNats or NatsTransport.create:
 *
 *     const nc = await connectNats({ servers, ...credsFileOptions('/etc/raftline/replica.creds') });
 *
 * The file is read once, now.
 * @returns `{ authenticator }`
 * @throws ConfigError naming the file when it cannot be read
 */
export function credsFileOptions(file: string): Pick<NodeConnectionOptions, 'authenticator'> {
  let creds: Uint8Array;
  try {
    creds = readFileSync(file);
  } catch (err) {
    throw new ConfigError([
      `NATS credentials file ${file} cannot be read: ${err instanceof Error ? err.message : String(err)}`,
    ]);
  }
  return { authenticator: natsCoreModule.credsAuthenticator(creds) };
}
