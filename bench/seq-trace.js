// Preloaded into each replica by bench/seq-latency.ts (NODE_OPTIONS=-r <this file>), never by
// the product: it wraps a few prototypes of the repo's sources to timestamp the phases of a
// command, and writes them as JSON to $RAFT_TRACE_DIR/<id>.json when the process exits.
// Times are absolute milliseconds (performance.timeOrigin + performance.now()), comparable
// across the processes of one machine.
//
// Events: [time, kind, ...fields]
//   P / R            RaftNode.propose called / its promise settled
//   p0 / p1          NodeStorage.persist(rd) starts / ends: first and last entry index (0 none),
//                    the Ready's last committed index, whether hard state was in it
//   sa, sr           the transport sends an append (to, last entry index, commit) / an append-resp (to, index)
//   ra, rr           the protocol steps an append (from, last entry index, commit) / an append-resp (from, index)
//   q0 / q1          a pg Client.query starts / ends (first 24 characters of its text)
//   c0 / c1          a pg Pool.connect (checkout) starts / ends
// RAFT_TRACE_PROFILE=1 also writes a V8 CPU profile of each replica, <id>.cpuprofile.
'use strict';
const path = require('node:path');
const { writeFileSync } = require('node:fs');
const { performance } = require('node:perf_hooks');

const dir = process.env.RAFT_TRACE_DIR;
const id = process.env.RAFT_ID;
if (dir && id) install(path.resolve(__dirname, '..'));

function install(root) {
  require(path.join(root, 'scripts/ts-register.js'));
  const events = [];
  const now = () => performance.timeOrigin + performance.now();
  const ev = (...fields) => {
    if (events.length < 500_000) events.push([now(), ...fields]);
  };
  const src = (p) => require(path.join(root, 'packages', p));
  const lastIndex = (entries) => (entries.length ? entries[entries.length - 1].index : 0);

  const { RaftNode } = src('core/src/node/raft-node.ts');
  const propose = RaftNode.prototype.propose;
  RaftNode.prototype.propose = function (...args) {
    ev('P');
    const p = propose.apply(this, args);
    p.then(
      () => ev('R'),
      () => ev('R'),
    );
    return p;
  };

  const { NodeStorage } = src('core/src/node/storage.ts');
  const persist = NodeStorage.prototype.persist;
  NodeStorage.prototype.persist = async function (rd) {
    const e = rd.entries;
    const fields = [e.length ? e[0].index : 0, lastIndex(e), lastIndex(rd.committed), rd.hardState ? 1 : 0];
    ev('p0', ...fields);
    try {
      return await persist.call(this, rd);
    } finally {
      ev('p1', ...fields);
    }
  };

  const { RaftProtocol } = src('core/src/protocol/raft.ts');
  const step = RaftProtocol.prototype.step;
  RaftProtocol.prototype.step = function (m) {
    if (m.type === 'append') ev('ra', m.from, lastIndex(m.entries), m.commit);
    else if (m.type === 'append-resp') ev('rr', m.from, m.index);
    return step.call(this, m);
  };

  const { NatsTransport } = src('transport-nats/src/transport.ts');
  const send = NatsTransport.prototype.send;
  NatsTransport.prototype.send = function (messages) {
    for (const m of messages) {
      if (m.type === 'append') ev('sa', m.to, lastIndex(m.entries), m.commit);
      else if (m.type === 'append-resp') ev('sr', m.to, m.index);
    }
    return send.call(this, messages);
  };

  if (process.env.RAFT_STORE === 'postgres') {
    const pg = require(require.resolve('pg', { paths: [path.join(root, 'packages/store-postgres')] }));
    const query = pg.Client.prototype.query;
    pg.Client.prototype.query = function (config, ...rest) {
      const text = String(typeof config === 'string' ? config : (config?.text ?? '')).slice(0, 24);
      ev('q0', text);
      const cb = rest[rest.length - 1];
      if (typeof cb === 'function') {
        rest[rest.length - 1] = (...res) => {
          ev('q1', text);
          return cb(...res);
        };
        return query.call(this, config, ...rest);
      }
      const out = query.call(this, config, ...rest);
      if (out && typeof out.then === 'function')
        out.then(
          () => ev('q1', text),
          () => ev('q1', text),
        );
      return out;
    };
    const connect = pg.Pool.prototype.connect;
    pg.Pool.prototype.connect = function (cb) {
      ev('c0');
      if (typeof cb === 'function') {
        return connect.call(this, (...res) => {
          ev('c1');
          return cb(...res);
        });
      }
      const out = connect.call(this);
      out.then(
        () => ev('c1'),
        () => ev('c1'),
      );
      return out;
    };
  }

  // RAFT_TRACE_PROFILE=1: a V8 CPU profile of the whole run too, as <id>.cpuprofile.
  let stopProfile = () => {};
  if (process.env.RAFT_TRACE_PROFILE === '1') {
    const session = new (require('node:inspector').Session)();
    session.connect();
    session.post('Profiler.enable');
    session.post('Profiler.start');
    stopProfile = () =>
      session.post('Profiler.stop', (err, res) => {
        if (!err) writeFileSync(path.join(dir, `${id}.cpuprofile`), JSON.stringify(res.profile));
      });
  }
  process.on('exit', () => {
    stopProfile();
    writeFileSync(path.join(dir, `${id}.json`), JSON.stringify(events));
  });
}
