import { LeadershipTransferError, RaftlineError, seededRandom, type NodeId } from '@raftline/core';
import { HistoryRecorder, type KvInput, type KvOutput, type SimCluster } from '../src/index';
import { cluster, converge, expectLinearizable, put } from './support/sim';

jest.setTimeout(120_000);

/** token → the indexes and sessions of every applied append of it, over all nodes' applied records. */
function appliedTokens(c: SimCluster): Map<string, Map<number, string>> {
  const out = new Map<string, Map<number, string>>();
  for (const id of c.allIds) {
    for (const [index, cmd] of c.applied(id)) {
      if (cmd.name !== 'append') continue;
      const token = `${String(cmd.args[0])}:${String(cmd.args[1])}`;
      let at = out.get(token);
      if (!at) out.set(token, (at = new Map()));
      at.set(index, `${cmd.session?.clientId}#${cmd.session?.seq}`);
    }
  }
  return out;
}

describe('SimCluster - leadership transfer (thesis §3.10)', () => {
  it('transferring leadership under load loses nothing and applies nothing twice', async () => {
    const c = await cluster({ nodes: 5, seed: 61, snapshotEvery: 40 });
    const rng = seededRandom(161);
    // Lost and late messages leave entries uncommitted when a leader hands over: their clients retry.
    c.setUnreliable({ dropRate: 0.05, delayMs: [0, 10], duplicateRate: 0.05, reorder: true });
    const history = new HistoryRecorder<KvInput, KvOutput>();
    let stop = false;
    const acked = new Map<string, string[]>();
    const unknown = new Set<string>();
    const clients = ['a', 'b', 'c', 'd'].map(async (name) => {
      const mine: string[] = [];
      acked.set(name, mine);
      for (let n = 0; !stop && !c.stopped; n++) {
        const input: KvInput = { op: 'append', key: name, value: `${n};` };
        const handle = history.invoke(name, input, c.now());
        try {
          const out = (await c.client(name).propose({ name: 'append', args: [name, `${n};`] })) as string;
          history.complete(handle, out, c.now());
          mine.push(`${n}`);
        } catch {
          unknown.add(`${name}:${n}`); // outcome unknown: left pending in the history
        }
      }
    });
    const leaders: NodeId[] = [];
    for (let k = 0; k < 12; k++) {
      await c.advance(100 + rng.nextInt(200));
      const to = k % 3 === 0 ? undefined : c.ids[rng.nextInt(c.ids.length)];
      if (to !== undefined && to === c.leader(c.ids)) continue;
      leaders.push(await c.transferLeadership(to));
      if (to !== undefined) expect(leaders.at(-1)).toBe(to);
      c.check();
    }
    stop = true;
    await Promise.all(clients);
    const state = await converge(c, 'end');
    expect(new Set(leaders).size).toBeGreaterThan(2);
    expect(c.leaderHistory().size).toBeGreaterThan(8);
    // Nothing lost, nothing twice: each client's value holds its acknowledged appends once each, in
    // order, and nothing else but appends whose outcome stayed unknown.
    for (const [name, mine] of acked) {
      expect(mine.length).toBeGreaterThan(20);
      const tokens = (state.get(name) ?? '').split(';').filter((t) => t !== '');
      expect(new Set(tokens).size).toBe(tokens.length);
      expect(tokens.filter((t) => mine.includes(t))).toEqual(mine);
      expect(tokens.filter((t) => !mine.includes(t) && !unknown.has(`${name}:${t}`))).toEqual([]);
    }
    // The applied records agree: every acknowledged append was applied, and where the log holds it
    // at several indexes (a client's retry), all are the same session's one command.
    const applied = appliedTokens(c);
    for (const [name, mine] of acked) {
      for (const n of mine) {
        const at = applied.get(`${name}:${n};`);
        expect(at?.size).toBeGreaterThan(0);
        expect(new Set(at!.values()).size).toBe(1);
      }
    }
    expectLinearizable(history.history());
  });

  it('moves leadership to the voter named, and refuses one that is not a voter', async () => {
    const c = await cluster({ nodes: 3, seed: 62 });
    const first = await c.waitForLeader();
    const target = c.ids.find((id) => id !== first)!;
    const term = c.status(first).term;
    expect(await c.transferLeadership(target)).toBe(target);
    expect(c.leader()).toBe(target);
    expect(c.status(target).term).toBe(term + 1); // one election, no disruption
    expect(await c.propose(put('k', 'v'))).toBeNull();
    await c.addLearner('n4');
    await expect(c.transferLeadership('n4')).rejects.toBeInstanceOf(RaftlineError);
    await expect(c.transferLeadership('n9')).rejects.toThrow(RangeError);
    expect(c.leader()).toBe(target);
    c.check();
  });

  it('a transfer to a cut-off voter fails, and the old leader keeps leading', async () => {
    const c = await cluster({ nodes: 3, seed: 63 });
    const leader = await c.waitForLeader();
    const target = c.ids.find((id) => id !== leader)!;
    await c.propose(put('k', 'a'));
    c.disconnect(target);
    const term = c.status(leader).term;
    // Proposals made during the transfer wait for it, then go to whoever leads.
    const during = c.propose(put('k', 'during'));
    await expect(c.transferLeadership(target)).rejects.toBeInstanceOf(LeadershipTransferError);
    await expect(during).resolves.toBeNull();
    expect(c.leader()).toBe(leader);
    expect(c.status(leader).term).toBe(term);
    c.connect(target);
    await c.advance(500);
    expect(c.leaders()).toEqual([leader]);
    c.check();
  });
});
