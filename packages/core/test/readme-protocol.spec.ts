// The README's "drive three nodes by hand" example, kept runnable here.
import { RaftProtocol, seededRandom, type Message } from '../src/index';

describe('README - protocol example', () => {
  it('drives three in-memory nodes by hand', () => {
    const ids = ['a', 'b', 'c'];
    const rng = seededRandom(42);
    const nodes = new Map(ids.map((id) => [id, new RaftProtocol({ id, voters: ids, random: rng.fork() })]));
    const inbox: Message[] = [];
    const disk = new Map(ids.map((id) => [id, [] as unknown[]]));
    const applied: string[] = [];

    // One Ready cycle per node: send leader messages, persist, send the rest, apply, advance.
    const drain = () => {
      for (const [id, n] of nodes) {
        while (n.hasReady()) {
          const rd = n.ready();
          inbox.push(...rd.leaderMessages);
          disk.get(id)!.push(...rd.entries); // a real driver writes hardState + entries durably here
          inbox.push(...rd.messages);
          for (const e of rd.committed)
            if (id === 'a' && e.type === 'normal') applied.push(new TextDecoder().decode(e.data));
          n.advance(rd);
        }
      }
    };
    const deliver = () => {
      while (inbox.length > 0) {
        const m = inbox.shift()!;
        nodes.get(m.to)!.step(m);
        drain();
      }
    };

    nodes.get('a')!.campaign(); // or tick() every node until an election timeout fires
    drain();
    deliver();
    expect(nodes.get('a')!.status().role).toBe('leader');

    nodes.get('a')!.propose([new TextEncoder().encode('set x=1')]);
    drain();
    deliver();
    expect(applied).toEqual(['set x=1']);
    expect(ids.map((id) => nodes.get(id)!.status().commitIndex)).toEqual([2, 2, 2]); // no-op + command
  });
});
