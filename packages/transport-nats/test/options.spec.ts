// Option checking happens before any NATS call, so these need no server: the
// connection below is never touched (each call throws first).
import { ConfigError } from '@raftline/core';
import {
  mirrorCommitted,
  NatsRaftClient,
  NatsTransport,
  registerReplicaService,
  serveClients,
  type NatsConnection,
} from '../src/index';

const connection = {} as NatsConnection;
const node = { id: 'n1', propose: async () => undefined, query: async () => ({ value: 0, appliedIndex: 0 }) };

/** The problems of the ConfigError that fn throws or rejects with. */
async function problemsOf(fn: () => unknown): Promise<readonly string[]> {
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  return (err as ConfigError).problems;
}

describe('transport-nats options - an unknown key is a ConfigError naming it', () => {
  it('NatsTransport.create', async () => {
    const options = { cluster: 'c', group: 'g', nodeId: 'n1', connection, clusterkey: 'secret' };
    expect(await problemsOf(() => NatsTransport.create(options as never))).toEqual([
      "NatsTransport options: unknown key 'clusterkey' (did you mean 'clusterKey'?)",
    ]);
  });

  it('NatsTransport.create: a misspelt nodeId is named, not taken for a missing one', async () => {
    const options = { cluster: 'c', group: 'g', nodeID: 'n1', connection };
    expect(await problemsOf(() => NatsTransport.create(options as never))).toEqual([
      "NatsTransport options: unknown key 'nodeID' (did you mean 'nodeId'?)",
    ]);
  });

  it('NatsRaftClient', async () => {
    const options = { connection, cluster: 'c', group: 'g', timeout: 100 };
    expect(await problemsOf(() => new NatsRaftClient(options as never))).toEqual([
      "NatsRaftClient options: unknown key 'timeout' (did you mean 'timeoutMs'?)",
    ]);
  });

  it('serveClients', async () => {
    const options = { connection, cluster: 'c', group: 'g', node, loger: console };
    expect(await problemsOf(() => serveClients(options as never))).toEqual([
      "serveClients options: unknown key 'loger' (did you mean 'logger'?)",
    ]);
  });

  it('mirrorCommitted, alongside the other option problems', async () => {
    const source = { id: 'n1', isLeader: () => false, committed: async function* () {} };
    const options = { node: source, connection, cluster: 'c', group: 'g', maxInflight: 2, rolePollMs: 0 };
    expect(await problemsOf(() => mirrorCommitted(options as never))).toEqual([
      "mirror options: unknown key 'maxInflight' (did you mean 'maxInFlight'?)",
      'rolePollMs (0) must be a positive integer',
    ]);
  });

  it('registerReplicaService', async () => {
    const status = { id: 'n1', status: () => ({}) as never };
    const options = { connection, cluster: 'c', group: 'g', node: status, metaData: {} };
    expect(await problemsOf(() => registerReplicaService(options as never))).toEqual([
      "registerReplicaService options: unknown key 'metaData' (did you mean 'metadata'?)",
    ]);
  });
});
