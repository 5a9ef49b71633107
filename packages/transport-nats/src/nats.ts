/**
 * The nats.js v3 types raftline uses, in one place. They are imported by
 * package name (never by a path inside a package, which nats.js's "exports"
 * maps close to node16/bundler resolution), so the published declarations
 * resolve under every moduleResolution a user may pick. The type-only
 * imports are erased at run time, where the packages' CommonJS builds load
 * with require() (the ESM build creates a require of its own).
 */
import { connect as nodeConnect } from '@nats-io/transport-node';
import type { ConnectionOptions, NatsConnection, TlsOptions } from '@nats-io/nats-core';
import type * as NatsCoreModule from '@nats-io/nats-core';
import type * as JetStreamModule from '@nats-io/jetstream';
import type * as ServicesModule from '@nats-io/services';

export type {
  ConnectionOptions,
  Msg,
  MsgHdrs,
  NatsConnection,
  Status,
  Subscription,
  TlsOptions,
} from '@nats-io/nats-core';
export type {
  JetStreamClient,
  JetStreamManager,
  JetStreamOptions,
  JsMsg,
  PubAck,
  StoredMsg,
  StreamConfig,
  StreamInfo,
} from '@nats-io/jetstream';
export type { Service, ServiceInfo, ServiceMsg } from '@nats-io/services';

/**
 * @nats-io/nats-core, @nats-io/jetstream and @nats-io/services at run time: the
 * CommonJS modules that @nats-io/transport-node loads too (one copy of each),
 * typed from the declarations above.
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
