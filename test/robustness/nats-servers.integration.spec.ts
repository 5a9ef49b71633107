// The 3-server NATS cluster of the robustness suite: its routes pass through
// the suite's proxies only, so a broken route partitions two servers while
// both still reach the third, and nothing the servers tell each other lets
// them dial around it.
import { connectNats, type NatsConnection } from '@raftline/transport-nats';
import { sleep, waitFor } from '../cluster/support/nats';
import { NatsServers, NatsTopologyError } from './support/nats-servers';

jest.setTimeout(60_000);

describe('robustness NATS cluster - partial partitions through proxied routes', () => {
  let nats: NatsServers;
  const conns: NatsConnection[] = [];
  /** What each server's subscriber on `probe` received. */
  const heard: string[][] = [[], [], []];

  /** Publishes `text` from server i, flushed. */
  const publish = async (i: number, text: string) => {
    conns[i]!.publish('probe', text);
    await conns[i]!.flush();
  };

  /** Waits until the message from `from` reached exactly the servers `to` (and none of the others). */
  const reaches = async (from: number, tag: string, to: number[]) => {
    const text = `${tag} from ${from}`;
    await publish(from, text);
    for (const i of to) await waitFor(`${text} at server ${i}`, () => heard[i]!.includes(text), 10_000);
    await sleep(300); // time enough for a message to cross a route that passes
    for (const i of [0, 1, 2].filter((s) => !to.includes(s))) expect(heard[i]).not.toContain(text);
  };

  beforeAll(async () => {
    nats = await NatsServers.start(3);
    for (let i = 0; i < 3; i++) {
      const nc = await connectNats({ servers: nats.url(i), name: `probe ${i}` });
      conns.push(nc);
      const sub = nc.subscribe('probe');
      void (async () => {
        for await (const m of sub) heard[i]!.push(m.string());
      })();
      await nc.flush();
    }
    // Interest crosses every route before the test starts.
    for (let attempt = 0; ; attempt++) {
      const text = `warm-up ${attempt}`;
      await publish(0, text);
      await publish(1, `${text}b`);
      await sleep(100);
      if (heard.every((h, i) => i === 0 || h.includes(text)) && heard[0]!.includes(`${text}b`)) break;
      if (attempt > 100) throw new Error('the cluster did not form');
    }
  });

  afterAll(async () => {
    for (const nc of conns) await nc.close().catch(() => undefined);
    await nats?.dispose();
  });

  it('carries messages between every pair of servers', async () => {
    await reaches(0, 'all', [0, 1, 2]);
    await reaches(1, 'all', [0, 1, 2]);
    await reaches(2, 'all', [0, 1, 2]);
  });

  it('a cut route partitions its two servers, who both still reach the third, until healed', async () => {
    nats.route(0, 1).cut();
    await reaches(0, 'cut', [0, 2]);
    await reaches(1, 'cut', [1, 2]);
    await reaches(2, 'cut', [0, 1, 2]);
    // A server that restarts meanwhile learns of the others from the third: it still cannot dial around the cut.
    await nats.stop(1);
    await nats.start(1);
    for (let attempt = 0; !heard[1]!.includes(`rejoin ${attempt - 1}`); attempt++) {
      if (attempt > 100) throw new Error('server 1 did not rejoin through server 2');
      await publish(2, `rejoin ${attempt}`);
      await sleep(100);
    }
    await sleep(2000); // gossip and implicit routes have had their time
    await reaches(0, 'cut after restart', [0, 2]);
    nats.route(0, 1).heal();
    for (let attempt = 0; ; attempt++) {
      const text = `healed ${attempt}`;
      await publish(0, text);
      await sleep(200);
      if (heard[1]!.includes(text)) break;
      if (attempt > 100) throw new Error('the route did not come back');
    }
    await reaches(1, 'healed', [0, 1, 2]);
  });

  it('a one-way route loses what one server sends the other and carries the rest', async () => {
    nats.route(0, 1).dropOneWay('up'); // the proxy's client is server 0: 0 → 1 is lost
    await reaches(0, 'one-way', [0, 2]);
    await reaches(1, 'one-way', [0, 1, 2]);
    nats.route(0, 1).heal();
    for (let attempt = 0; ; attempt++) {
      const text = `one-way healed ${attempt}`;
      await publish(0, text);
      await sleep(200);
      if (heard[1]!.includes(text)) break;
      if (attempt > 100) throw new Error('the route did not come back');
    }
  });

  it('refuses a topology or a route it does not have with NatsTopologyError', async () => {
    expect(() => nats.route(1, 1)).toThrow(NatsTopologyError);
    await expect(NatsServers.start(2)).rejects.toThrow(NatsTopologyError);
  });
});
