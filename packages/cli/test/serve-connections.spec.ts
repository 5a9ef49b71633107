import { loadServeConfig, type ServeSources } from '../src/index';
import { connectionName } from '../src/serve/connections';
import { KV, problemsOf, tempDir, writeFile } from './support/cli';

// nats.separateRaftConnection: where serve reads it, and the names its connections take.

describe('serve configuration - nats.separateRaftConnection', () => {
  const tmp = tempDir('sep');
  afterAll(() => tmp.remove());
  const file = (nats: string) =>
    writeFile(
      tmp.dir,
      `n1-${Math.random().toString(36).slice(2)}.yaml`,
      [
        'node: n1',
        'cluster: c',
        `nats: ${nats}`,
        'store: memory',
        `groups: { kv: { machine: ${KV}, voters: [n1] } }`,
        '',
      ].join('\n'),
    );
  const load = (nats: string, over: Partial<ServeSources> = {}) =>
    loadServeConfig({ file: file(nats), env: {}, flags: {}, cwd: tmp.dir, ...over });

  it('is on unless the file, RAFTLINE_SEPARATE_RAFT_CONNECTION or --separate-raft-connection turns it off', () => {
    expect(load('{ servers: [x:4222] }').nats.separateRaftConnection).toBe(true);
    expect(load('{ separateRaftConnection: false }').nats.separateRaftConnection).toBe(false);
    expect(load('{}', { env: { RAFTLINE_SEPARATE_RAFT_CONNECTION: 'no' } }).nats.separateRaftConnection).toBe(
      false,
    );
    expect(
      load('{ separateRaftConnection: false }', {
        env: { RAFTLINE_SEPARATE_RAFT_CONNECTION: 'false' },
        flags: { 'nats.separateRaftConnection': 'true' },
      }).nats.separateRaftConnection,
    ).toBe(true);
  });

  it('refuses a value that is not a boolean, naming the field and where it came from', () => {
    expect(problemsOf(() => load('{ separateRaftConnection: twice }'))).toEqual([
      'nats.separateRaftConnection (twice) must be true or false',
    ]);
    expect(problemsOf(() => load('{}', { flags: { 'nats.separateRaftConnection': 'maybe' } }))).toEqual([
      'nats.separateRaftConnection (maybe, from --separate-raft-connection) must be true or false',
    ]);
  });

  it('names the connections after cluster and node, with their role when Raft has its own', () => {
    const config = load('{}');
    expect(connectionName(config, 'raft')).toBe('raftline serve c/n1 raft');
    expect(connectionName(config, 'clients')).toBe('raftline serve c/n1 clients');
    expect(connectionName(config, undefined)).toBe('raftline serve c/n1');
  });
});
