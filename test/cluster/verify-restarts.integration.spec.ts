// A deterministic machine never reports a divergence: three Inventory replica
// processes (test/fixtures/inventory-replica.ts) over NATS and PostgreSQL,
// with periodic verification every VERIFY_EVERY commands and snapshots every
// SNAPSHOT_ENTRIES entries, under a typed-client session load while the
// leader is killed with SIGKILL twice and restarted on its rows, and
// AdminClient.verify() runs meanwhile. No replica ever finds itself diverged,
// no verify() names one, and no command is applied twice.
import {
  AdminClient,
  connectClient,
  LeaderUnavailableError,
  type MachineClient,
  type VerifyReport,
} from '@raftline/transport-nats';
import type { VerificationStatus } from '@raftline/core';
import { join } from 'node:path';
import type { Inventory } from '../fixtures/inventory';
import { clusterHarness, IDS } from './support/harness';
import { sleep } from './support/nats';
import { inspect, stableLeader } from './support/replicas';

const INVENTORY_REPLICA = join(__dirname, '../fixtures/inventory-replica.ts');
const VERIFY_EVERY = 15;
const SNAPSHOT_ENTRIES = 60;
const LOAD = { workers: 4, maxCommands: 900, maxMs: 90_000 };
const DIVERGED_LINE = 'diverged from the leader';

interface InventoryReport {
  readonly id: string;
  readonly role: string;
  readonly appliedIndex: number;
  readonly snapshotIndex: number;
  readonly verification: VerificationStatus;
  readonly marks: Record<string, number>;
}

jest.setTimeout(180_000);

describe('consistency verification - a deterministic machine across kill -9, snapshots and restarts', () => {
  const h = clusterHarness();

  it('no replica reports a divergence and no verify() names one while the leader is killed twice and restarted under a session load; nothing is applied twice', async () => {
    const c = h.cluster({
      electionMs: 1000,
      script: INVENTORY_REPLICA,
      env: {
        VERIFY_EVERY: String(VERIFY_EVERY),
        SNAPSHOT_ENTRIES: String(SNAPSHOT_ENTRIES),
        SNAPSHOT_TRAILING: '20',
      },
    });
    const { cluster, group } = c.options;
    const nc = h.nc();
    const look = async (id: string) =>
      (await inspect(nc, cluster, id)) as unknown as InventoryReport | undefined;
    await c.startAll();
    const first = await stableLeader(nc, cluster, IDS, 20_000);
    const inv: MachineClient<Inventory> = await connectClient<Inventory>({
      connection: nc,
      cluster,
      group,
      requestTimeoutMs: 500,
      timeoutMs: 8000,
      retries: 8,
    });
    const admin = new AdminClient({ connection: nc, cluster, group, timeoutMs: 4000, requestTimeoutMs: 500 });
    try {
      // The load: each worker marks unique keys, one at a time, through the client's session.
      const deadline = Date.now() + LOAD.maxMs;
      const acked = new Map<string, number>();
      const unknown: string[] = [];
      const refused: string[] = [];
      let issued = 0;
      let maxAttempts = 0;
      let loading = true;
      const worker = async (w: number): Promise<void> => {
        while (issued < LOAD.maxCommands && Date.now() < deadline) {
          const key = `w${w}-${issued++}`;
          try {
            const { value, attempts } = await inv.submit('mark', [key]);
            acked.set(key, value);
            maxAttempts = Math.max(maxAttempts, attempts);
          } catch (err) {
            (err instanceof LeaderUnavailableError ? refused : unknown).push(key);
            await sleep(50);
          }
        }
      };
      const load = Promise.all([0, 1, 2, 3].map(worker)).finally(() => (loading = false));

      // Verification on demand meanwhile, besides the periodic markers.
      const reports: VerifyReport[] = [];
      const verifyFailures: string[] = [];
      const verifying = (async () => {
        while (loading) {
          try {
            reports.push(await admin.verify());
          } catch (err) {
            verifyFailures.push(err instanceof Error ? err.name : String(err));
          }
          await sleep(300);
        }
      })();

      const untilAcked = async (n: number): Promise<void> => {
        while (acked.size < n) {
          if (!loading) throw new Error(`the load ended with ${acked.size} acknowledged, before ${n}`);
          await sleep(50);
        }
      };
      await untilAcked(200);
      await c.kill9(first);
      const second = await stableLeader(
        nc,
        cluster,
        IDS.filter((id) => id !== first),
        20_000,
      );
      await c.start(first); // from its PostgreSQL rows: its snapshot, then the log after it
      await untilAcked(500);
      await c.kill9(second);
      const third = await stableLeader(
        nc,
        cluster,
        IDS.filter((id) => id !== second),
        20_000,
      );
      await c.start(second);
      await load;
      await verifying;

      // One more command, so that every replica has applied everything before it.
      await inv.commands.mark('final');
      const views: InventoryReport[] = [];
      for (const id of IDS) {
        let view: InventoryReport | undefined;
        const until = Date.now() + 20_000;
        while (Date.now() < until) {
          view = await look(id);
          if (view?.marks.final === 1) break;
          await sleep(100);
        }
        expect(view?.marks.final).toBe(1);
        views.push(view!);
      }
      const final = await admin.verify({ timeoutMs: 10_000 });

      // Nothing applied twice: acknowledged once each, refused nowhere, the same marks everywhere.
      const marks = views[0]!.marks;
      for (const v of views.slice(1)) expect(v.marks).toEqual(marks);
      expect([...acked.values()].filter((v) => v !== 1)).toEqual([]);
      expect([...acked.keys()].filter((k) => marks[k] !== 1)).toEqual([]);
      expect(Object.entries(marks).filter(([, n]) => n > 1)).toEqual([]);
      expect(refused.filter((k) => marks[k] !== undefined)).toEqual([]);
      expect(acked.size).toBeGreaterThan(500);
      expect(maxAttempts).toBeGreaterThanOrEqual(2); // commands in flight across a kill were resent

      // No divergence, anywhere, ever: not in a report, a status or a replica's log.
      expect(reports.filter((r) => r.disagreeing.length > 0)).toEqual([]);
      expect(reports.filter((r) => r.agree).length).toBeGreaterThan(0);
      expect(final).toMatchObject({ leaderId: third, agree: true, disagreeing: [], missing: [] });
      expect(final.replicas.map((r) => r.node)).toEqual([...IDS]);
      for (const v of views) {
        expect(v.verification.diverged).toBeUndefined();
        expect(v.verification.stoppedApplying).toBe(false);
        expect(v.verification.compared).toBeGreaterThan(0); // the restarted ones too, since their restart
        expect(v.snapshotIndex).toBeGreaterThan(0);
        expect(c.log(v.id)).not.toContain(DIVERGED_LINE);
      }
      expect(c.unexpectedExits()).toEqual([]);
      process.stdout.write(
        `verification across kill -9: issued ${issued}, acked ${acked.size}, unknown ${unknown.length}, ` +
          `refused ${refused.length}, max attempts ${maxAttempts}; verify() ${reports.length} reports ` +
          `(${reports.filter((r) => r.agree).length} agreeing, the rest with replicas missing), ` +
          `${verifyFailures.length} failed (${[...new Set(verifyFailures)].join(', ')}); ` +
          `markers compared per replica ${views.map((v) => `${v.id}:${v.verification.compared}`).join(' ')}; ` +
          `snapshots at ${views.map((v) => v.snapshotIndex).join('/')}\n`,
      );
    } finally {
      inv.close();
    }
  });
});
