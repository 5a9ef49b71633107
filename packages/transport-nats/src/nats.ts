/**
 * The nats.js v3 types raftline uses, in one place. nats.js publishes its
 * types behind package.json "exports" subpaths, which TypeScript's node10
 * module resolution (this repo's CommonJS setting) cannot follow: imported
 * through `@nats-io/transport-node` they silently degrade to `any`. The
 * type-only imports below read the declaration files directly; they are
 * erased at run time, where the packages' CommonJS builds load as usual.
 */
import { connect as nodeConnect } from '@nats-io/transport-node';
import type { ConnectionOptions, NatsConnection, TlsOptions } from '@nats-io/nats-core/lib/core';
import type * as NatsCoreModule from '@nats-io/nats-core/lib/mod';
import type * as JetStreamModule from '@nats-io/jetstream/lib/mod';
import type * as ServicesModule from '@nats-io/services/lib/mod';

export type {
  ConnectionOptions,
  Msg,
  MsgHdrs,
  NatsConnection,
  Status,
  Subscription,
  TlsOptions,
} from '@nats-io/nats-core/lib/core';
export type {
  JetStreamClient,
  JetStreamManager,
  JetStreamOptions,
  JsMsg,
  PubAck,
  StoredMsg,
  StreamConfig,
  StreamInfo,
} from '@nats-io/jetstream/lib/mod';
export type { Service, ServiceInfo, ServiceMsg } from '@nats-io/services/lib/mod';

/**
 * @nats-io/nats-core, @nats-io/jetstream and @nats-io/services at run time. Their package.json
 * "types" fields are broken under node10 resolution, so the values are
 * required here and typed from the declaration files above.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const natsCoreModule = require('@nats-io/nats-core') as typeof NatsCoreModule;
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const jetstreamModule = require('@nats-io/jetstream') as typeof JetStreamModule;
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const servicesModule = require('@nats-io/services') as typeof ServicesModule;

/** nats.js connection options with Node's TLS settings (as @nats-io/transport-node's NodeConnectionOptions). */
export type NodeConnectionOptions = Omit<ConnectionOptions, 'tls'> & {
  tls?: (TlsOptions & { rejectUnauthorized?: boolean }) | null;
};

/**
 * Opens a connection with @nats-io/transport-node.
 * @returns the open connection
 * @throws the nats.js connection error when no server accepts it
 */
export function natsConnect(options: NodeConnectionOptions): Promise<NatsConnection> {
  return (nodeConnect as (o: NodeConnectionOptions) => Promise<NatsConnection>)(options);
}
