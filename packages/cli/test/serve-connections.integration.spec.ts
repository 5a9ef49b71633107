import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import {
  eventually,
  freePort,
  listening,
  KV,
  runCli,
  startServe,
  tempDir,
  unique,
  writeFile,
  type ServeProcess,
} from './support/cli';

// `raftline serve`'s NATS connections, as a nats-server of this test (with
// JetStream and its monitoring port) sees them: by default one for Raft
// traffic and admin, one for clients, the mirror and discovery; one for
// everything with nats.separateRaftConnection: false.

interface Connz {
  connections: { name?: string; subscriptions_list?: string[] }[];
}

/** A nats-server of the test's own, on free ports, with JetStream in dir. */
async function startNats(
  dir: string,
  ports?: { port: number; monitor: number },
): Promise<{ port: number; monitor: number; proc: ChildProcess; connz(): Promise<Connz> }> {
  const port = ports?.port ?? (await freePort());
  const monitor = ports?.monitor ?? (await freePort());
  const proc = spawn(
    'nats-server',
    ['-a', '127.0.0.1', '-p', String(port), '-m', String(monitor), '-js', '-sd', dir],
    { stdio: 'ignore' },
  );
  await eventually('nats-server listening', () => listening(port));
  const connz = async (): Promise<Connz> =>
    (await (await fetch(`http://127.0.0.1:${monitor}/connz?subs=1`)).json()) as Connz;
  await eventually('the monitoring port', async () =>
    (await connz().catch(() => undefined)) ? true : undefined,
  );
  return { port, monitor, proc, connz };
}

const stop = (proc: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.once('exit', () => resolve());
    proc.kill('SIGKILL');
  });

describe('raftline serve - Raft traffic on a NATS connection of its own', () => {
  const tmp = tempDir('conns');
  const running: ServeProcess[] = [];
  const servers: ChildProcess[] = [];
  afterAll(async () => {
    await Promise.all(running.map((p) => p.kill9()));
    await Promise.all(servers.map(stop));
    tmp.remove();
  });

  const serve = (cluster: string, port: number, extra: string[] = []): ServeProcess => {
    const config = writeFile(
      tmp.dir,
      `${cluster}.yaml`,
      [
        'node: n1',
        `cluster: ${cluster}`,
        `nats: { servers: [127.0.0.1:${port}] }`,
        'store: memory',
        'metrics: { port: 0 }',
        'raft: { electionTimeoutMs: 1000, heartbeatMs: 150 }',
        `groups: { kv: { machine: ${KV}, voters: [n1] } }`,
        '',
      ].join('\n'),
    );
    const p = startServe(['-c', config, ...extra]);
    running.push(p);
    return p;
  };
  /** The connections named after this cluster's n1, by name, with their subscriptions. */
  const of = async (connz: () => Promise<Connz>, cluster: string): Promise<Map<string, string[]>> => {
    const mine = (await connz()).connections.filter((c) =>
      c.name?.startsWith(`raftline serve ${cluster}/n1`),
    );
    return new Map(mine.map((c) => [c.name!, c.subscriptions_list ?? []]));
  };
  const call = (port: number, cluster: string, value: string) =>
    runCli([
      'call',
      'put',
      JSON.stringify(['k', value]),
      '--nats',
      `127.0.0.1:${port}`,
      '--cluster',
      cluster,
      '--group',
      'kv',
    ]);

  it('opens a raft and a clients connection by default, each with its own subjects; a restart of NATS reconnects both; SIGTERM closes both', async () => {
    const nats = await startNats(join(tmp.dir, 'js1'));
    servers.push(nats.proc);
    const cluster = unique('conns');
    const p = serve(cluster, nats.port);
    const ready = await p.waitForLog('raftline serve ready', 60_000);
    const raft = `raftline serve ${cluster}/n1 raft`;
    const clients = `raftline serve ${cluster}/n1 clients`;
    expect(ready.natsConnections).toEqual([raft, clients]);

    const base = `raftline.${cluster}.kv`;
    const conns = await eventually('both connections with their subscriptions', async () => {
      const m = await of(nats.connz, cluster);
      return m.get(clients)?.includes(`${base}.client`) ? m : undefined;
    });
    expect([...conns.keys()].sort()).toEqual([clients, raft]);
    const raftSubs = conns.get(raft)!;
    const clientSubs = conns.get(clients)!;
    expect(raftSubs).toEqual(expect.arrayContaining([`${base}.raft.n1`, `${base}.alive.n1`]));
    expect(raftSubs.some((s) => s.startsWith(`${base}.admin.`))).toBe(true);
    expect(raftSubs.filter((s) => /\.(client|query)(\.|$)|^\$SRV/.test(s))).toEqual([]);
    expect(clientSubs).toEqual(expect.arrayContaining([`${base}.client`, `${base}.query`]));
    expect(clientSubs.some((s) => s.startsWith('$SRV.'))).toBe(true);
    expect(clientSubs.filter((s) => /\.(raft|alive|admin)\./.test(s))).toEqual([]);
    expect(await call(nats.port, cluster, 'one')).toMatchObject({ code: 0 });

    // Both connections lose the server and come back to it; the replica serves again.
    await stop(nats.proc);
    const back = await startNats(join(tmp.dir, 'js2'), { port: nats.port, monitor: nats.monitor });
    servers.push(back.proc);
    await eventually(
      'both connections restored',
      async () => {
        const roles = p.logs.filter((l) => l.msg === 'NATS connection restored').map((l) => l.connection);
        return roles.includes('raft') && roles.includes('clients') ? true : undefined;
      },
      30_000,
    );
    const lost = p.logs.filter((l) => l.msg === 'NATS connection lost').map((l) => l.connection);
    expect([...new Set(lost)].sort()).toEqual(['clients', 'raft']);
    const again = await eventually(
      'a put after the restart',
      async () => {
        const r = await call(back.port, cluster, 'two');
        return r.code === 0 ? r : undefined;
      },
      30_000,
    );
    expect(again.code).toBe(0);

    expect(await p.terminate()).toBe(0);
    expect([...(await of(back.connz, cluster)).keys()]).toEqual([]);
  }, 150_000);

  it('with nats.separateRaftConnection false (--separate-raft-connection false) it opens one connection for everything', async () => {
    const nats = await startNats(join(tmp.dir, 'js3'));
    servers.push(nats.proc);
    const cluster = unique('conn1');
    const p = serve(cluster, nats.port, ['--separate-raft-connection', 'false']);
    const ready = await p.waitForLog('raftline serve ready', 60_000);
    const shared = `raftline serve ${cluster}/n1`;
    expect(ready.natsConnections).toEqual([shared]);
    const base = `raftline.${cluster}.kv`;
    const conns = await eventually('the connection with its subscriptions', async () => {
      const m = await of(nats.connz, cluster);
      return m.get(shared)?.includes(`${base}.client`) ? m : undefined;
    });
    expect([...conns.keys()]).toEqual([shared]);
    expect(conns.get(shared)).toEqual(expect.arrayContaining([`${base}.raft.n1`, `${base}.client`]));
    expect(await call(nats.port, cluster, 'one')).toMatchObject({ code: 0 });
    expect(await p.terminate()).toBe(0);
    expect([...(await of(nats.connz, cluster)).keys()]).toEqual([]);
  }, 90_000);
});
