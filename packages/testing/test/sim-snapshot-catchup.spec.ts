import type { Message, NodeId } from '@raftline/core';
import type { SimCluster } from '../src/index';
import { cluster, put, until } from './support/sim';

jest.setTimeout(120_000);

const HEARTBEAT_MS = 50;
/** The simulator's snapshotChunkTimeoutMs (the minimum election timeout): a lost chunk or ack is resent after it. */
const CHUNK_TIMEOUT_MS = 150;
/**
 * How long a catch-up may take once the follower is reachable: the transfer
 * (a few chunks, one resent after a loss) plus four heartbeat rounds. It takes
 * about 220 ms in these runs; without the fixes it never ends.
 */
const CATCH_UP_MS = CHUNK_TIMEOUT_MS + 4 * HEARTBEAT_MS;

/**
 * A cluster where `follower` was cut off while the leader wrote far past it
 * and compacted its log: reconnected, it can only catch up by a snapshot,
 * sent in several chunks (each value is ~400 bytes, a chunk 1024).
 */
async function lagBehindSnapshot(
  nodes: number,
  seed: number,
): Promise<{ c: SimCluster; leader: NodeId; follower: NodeId; behind: number }> {
  const c = await cluster({ nodes, seed, snapshotEvery: 10, snapshotTrailing: 2, heartbeatMs: HEARTBEAT_MS });
  const leader = await c.waitForLeader();
  const follower = c.ids.find((id) => id !== leader)!;
  await c.propose(put('k0', 'v0'));
  await until(c, () => c.status(follower).appliedIndex === c.status(leader).commitIndex, 1000);
  c.disconnect(follower);
  const behind = c.status(follower).lastIndex;
  for (let k = 0; k < 40; k++) await c.propose(put(`k${k % 8}`, `${k}:${'x'.repeat(400)}`));
  await until(c, () => c.status(leader).snapshotIndex > c.status(follower).lastIndex + 2, 2000);
  expect(c.leader()).toBe(leader);
  return { c, leader, follower, behind };
}

/** Whether the follower applied everything the leader committed and the leader replicates to it again. */
function caughtUp(c: SimCluster, leader: NodeId, follower: NodeId): boolean {
  const s = c.status(leader);
  return (
    c.isRunning(follower) &&
    c.status(follower).appliedIndex >= s.commitIndex &&
    s.followers?.[follower]?.state === 'replicate'
  );
}

/**
 * Reconnects the follower and waits, at most CATCH_UP_MS, until it caught up
 * (by a snapshot); then a fresh write reaches it within a few heartbeats.
 */
async function expectCatchUp(lag: Awaited<ReturnType<typeof lagBehindSnapshot>>): Promise<void> {
  const { c, leader, follower, behind } = lag;
  c.connect(follower);
  await until(c, () => caughtUp(c, leader, follower), CATCH_UP_MS);
  expect(c.status(follower).snapshotIndex).toBeGreaterThan(behind);
  await c.propose(put('after', 'install'));
  await until(c, () => c.status(follower).appliedIndex >= c.status(leader).commitIndex, 10 * HEARTBEAT_MS);
  c.check();
}

/** Matches the n-th (from 1) message of `type` from `from` to `to` sent from now on. */
function nth(type: Message['type'], from: NodeId, to: NodeId, n: number): (m: Message) => boolean {
  let seen = 0;
  return (m) => m.type === type && m.from === from && m.to === to && ++seen === n;
}

/** Matches messages of `types` from `from` sent after the leader's last snapshot chunk to it (use with a count). */
function afterInstall(
  types: readonly Message['type'][],
  from: NodeId,
  leader: NodeId,
): (m: Message) => boolean {
  let installed = false;
  return (m) => {
    if (m.type === 'snapshot-chunk' && m.from === leader && m.to === from && m.last) installed = true;
    return installed && m.from === from && types.includes(m.type);
  };
}

describe.each([3, 5])(
  'SimCluster - a follower catches up within a few heartbeats when its snapshot install loses messages (%i nodes)',
  (nodes) => {
    const seed = 40 + nodes;

    it.each([1, 2, 3, 4])('when snapshot chunk %i is lost', async (k) => {
      const lag = await lagBehindSnapshot(nodes, seed);
      const { c, leader, follower } = lag;
      const rule = c.dropWhere(nth('snapshot-chunk', leader, follower, k), { count: 1 });
      await expectCatchUp(lag);
      expect(rule.dropped).toBe(1);
    });

    it.each([1, 2, 3, 4])('when the response to chunk %i is lost', async (k) => {
      const lag = await lagBehindSnapshot(nodes, seed);
      const { c, leader, follower } = lag;
      const rule = c.dropWhere(nth('snapshot-chunk-resp', follower, leader, k), { count: 1 });
      await expectCatchUp(lag);
      expect(rule.dropped).toBe(1);
    });

    it.each([
      ['the append-resp acknowledging the install is lost', ['append-resp'], 1],
      ['that append-resp and the next heartbeat-resp are lost', ['append-resp', 'heartbeat-resp'], 2],
      ['the last chunk response and that append-resp are lost', ['snapshot-chunk-resp', 'append-resp'], 2],
    ] as const)('when %s', async (_what, types, count) => {
      const lag = await lagBehindSnapshot(nodes, seed);
      const { c, leader, follower } = lag;
      const rule = c.dropWhere(afterInstall(types, follower, leader), { count });
      await expectCatchUp(lag);
      expect(rule.dropped).toBe(count);
    });

    it('when the leader gave up on a delivered snapshot and sends it again', async () => {
      const { c, leader, follower } = await lagBehindSnapshot(nodes, seed);
      // Everything the follower says after the install is lost until the leader's sender gives up and starts over.
      const muted = afterInstall(['snapshot-chunk-resp', 'append-resp', 'heartbeat-resp'], follower, leader);
      let resent = false;
      let installed = false;
      const rule = c.dropWhere((m) => {
        if (m.type === 'snapshot-chunk' && m.to === follower) {
          if (installed && m.offset === 0) resent = true;
          if (m.last) installed = true;
        }
        return !resent && muted(m);
      });
      c.connect(follower);
      await until(c, () => resent, 20 * CHUNK_TIMEOUT_MS);
      expect(rule.dropped).toBeGreaterThan(3);
      rule.remove();
      const chunksBefore = c.networkStats().byType['snapshot-chunk'].count;
      await until(c, () => caughtUp(c, leader, follower), CATCH_UP_MS);
      // The follower answered the first chunk of the resent snapshot: the rest never went out.
      expect(c.networkStats().byType['snapshot-chunk'].count - chunksBefore).toBeLessThanOrEqual(1);
      c.check();
    });

    it.each([1, 2])('when the follower crashes after chunk %i, mid-install', async (k) => {
      const { c, leader, follower, behind } = await lagBehindSnapshot(nodes, seed);
      let chunks = 0;
      const counter = c.dropWhere((m) => {
        if (m.type === 'snapshot-chunk' && m.to === follower) chunks++;
        return false;
      });
      c.connect(follower);
      await until(c, () => chunks >= k, CATCH_UP_MS, 1);
      c.crash(follower);
      counter.remove();
      await c.advance(4 * HEARTBEAT_MS);
      await c.restart(follower);
      await until(c, () => caughtUp(c, leader, follower), CATCH_UP_MS);
      expect(c.status(follower).snapshotIndex).toBeGreaterThan(behind);
      c.check();
    });
  },
);
