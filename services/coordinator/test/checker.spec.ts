// The safety checker must fail for runs that break each property: fed
// tampered observations of a small hand-driven run, and whole simulated runs
// of deliberately broken machines.
import { StateMachine } from '@raftline/core';
import {
  Coordinator,
  type CampaignResult,
  type HistoryPage,
  type Progress,
  type RenewResult,
  type ResourceView,
  type ResourceWrite,
  type ActResult,
} from '../src/index';
import { checkRun, type OpRecord, type RunObservation } from './support/checker';
import { Machine } from './support/host';
import { runCoordinatorSeed } from './support/workload';

/** A Machine that records what a checker needs. */
class Recorded extends Machine {
  readonly ops: OpRecord[] = [];
  readonly commands = new Map<number, { name: string; args: readonly unknown[] }>();

  as<T = { readonly ok: boolean; readonly [key: string]: unknown }>(
    who: string,
    name: string,
    ...args: unknown[]
  ): T {
    const result = this.cmd<T>(name, ...args);
    this.commands.set(this.host.appliedIndex, { name, args });
    this.ops.push({ who, name, args, invokedAt: this.time, outcome: 'ok', result });
    return result;
  }

  observe(): RunObservation {
    return {
      ops: this.ops,
      histories: new Map([['t', this.query<HistoryPage>('history', 't')]]),
      resources: new Map([['t', this.query<ResourceView[]>('resources', 't')]]),
      commands: this.commands,
    };
  }
}

/** a1 holds epoch 1, checkpoints and writes; its lease runs out; a2 takes over with epoch 2 and writes. */
function honestRun(): Recorded {
  const m = new Recorded();
  m.as('setup', 'register', 'a1');
  m.as('setup', 'register', 'a2');
  m.as('setup', 'createTask', 't', { leaseMs: 1000 });
  m.as('a1', 'campaign', 't', 'a1');
  m.as('a1', 'checkpoint', 't', 1, { state: 'a1|1|1', summary: '1' });
  m.as('a1', 'act', 't', 1, 'r', { op: 'set', value: 1 });
  m.as('a2', 'campaign', 't', 'a2');
  m.advance(1500);
  m.as('a2', 'campaign', 't', 'a2');
  m.as('a2', 'act', 't', 2, 'r', { op: 'set', value: 2 });
  m.as('a1', 'act', 't', 1, 'r', { op: 'set', value: 'stale' });
  return m;
}

describe('coordinator safety checker - tampered observations', () => {
  it('passes an honest run', () => {
    expect(checkRun(honestRun().observe())).toEqual([]);
  });

  it('flags a grant made while another epoch holds', () => {
    const obs = honestRun().observe();
    const page = obs.histories.get('t')!;
    const events = page.events.filter((e) => !(e.kind === 'ended' && e.epoch === 1));
    const v = checkRun({ ...obs, histories: new Map([['t', { ...page, events }]]) });
    expect(v).toContainEqual(expect.stringMatching(/epoch 2 granted to a2 while epoch 1 \(a1\) holds/));
  });

  it('flags epochs that do not increase', () => {
    const obs = honestRun().observe();
    const page = obs.histories.get('t')!;
    const events = page.events.map((e) => (e.kind === 'granted' && e.epoch === 2 ? { ...e, epoch: 1 } : e));
    expect(checkRun({ ...obs, histories: new Map([['t', { ...page, events }]]) })).toContainEqual(
      expect.stringMatching(/epoch 1 granted after epoch 1 \(not increasing\)/),
    );
  });

  it('flags a stale write reported as applied', () => {
    const obs = honestRun().observe();
    const ops = obs.ops.map((op) =>
      op.name === 'act' && (op.result as ActResult).ok === false
        ? { ...op, result: { ...(op.result as object), ok: true } }
        : op,
    );
    expect(checkRun({ ...obs, ops })).toContainEqual(
      expect.stringMatching(/a1's act under epoch 1 .* succeeded outside the tenure/),
    );
  });

  it('flags a resource last written under an epoch that did not hold it then', () => {
    const obs = honestRun().observe();
    const [r] = obs.resources.get('t')!;
    const v = checkRun({ ...obs, resources: new Map([['t', [{ ...r!, epoch: 1, writer: 'a1' }]]]) });
    expect(v).toContainEqual(
      expect.stringMatching(/resource r was written by a1 under epoch 1 at 2500, outside that tenure/),
    );
  });

  it('flags a lease its holder was told of that ended before it ran out', () => {
    const obs = honestRun().observe();
    const ops = obs.ops.map((op) => {
      const r = op.result as CampaignResult;
      return op.who === 'a1' && op.name === 'campaign' && r.ok && r.status === 'elected'
        ? { ...op, result: { ...r, lease: { ...r.lease, expiresAt: r.lease.expiresAt + 1 } } }
        : op;
    });
    expect(checkRun({ ...obs, ops })).toContainEqual(
      expect.stringMatching(/told its lease runs to 2001, but it ended at 2000/),
    );
  });

  it('flags a new coordinator handed anything but the last checkpoint', () => {
    const obs = honestRun().observe();
    const elected = (op: OpRecord) =>
      op.who === 'a2' && (op.result as CampaignResult as { status: string }).status === 'elected';
    const without = obs.ops.map((op) =>
      elected(op) ? { ...op, result: { ...(op.result as object), checkpoint: null } } : op,
    );
    expect(checkRun({ ...obs, ops: without })).toContainEqual(
      expect.stringMatching(/with checkpoint none, the last was 1/),
    );
    const forged = obs.ops.map((op) =>
      elected(op)
        ? {
            ...op,
            result: { ...(op.result as object), checkpoint: { seq: 1, epoch: 1, by: 'a1', state: 'forged' } },
          }
        : op,
    );
    expect(checkRun({ ...obs, ops: forged })).toContainEqual(
      expect.stringMatching(/checkpoint 1 handed to a2 is not the one a1 wrote/),
    );
  });

  it('flags an override no human sent', () => {
    const m = honestRun();
    m.as('alice', 'designate', 't', 'a1', 'alice');
    const obs = m.observe();
    const commands = new Map(obs.commands);
    commands.set(m.host.appliedIndex, { name: 'campaign', args: ['t', 'a1'] });
    expect(checkRun({ ...obs, commands })).toContainEqual(
      expect.stringMatching(/epoch 2 ended \(overridden\) by a campaign command/),
    );
  });
});

// Broken machines: each breaks one guarantee, through the public API only.

/** Applies a guarded write under whatever epoch holds the task, not the one the caller names. */
@StateMachine('coordinator-unfenced')
class UnfencedCoordinator extends Coordinator {
  override act(task: string, epoch: number, resource: string, write: ResourceWrite): ActResult {
    return super.act(task, this.task(task)?.epoch ?? epoch, resource, write);
  }
}

/** Hands a held task to any candidate that campaigns for it, as if a human had designated it. */
@StateMachine('coordinator-stealing')
class StealingCoordinator extends Coordinator {
  override campaign(task: string, candidate: string): CampaignResult {
    const t = this.task(task);
    if (t?.status === 'held' && t.holder !== candidate && this.candidate(candidate))
      this.designate(task, candidate, 'nobody');
    return super.campaign(task, candidate);
  }
}

/** Tells a renewing coordinator its lease runs longer than it does. */
@StateMachine('coordinator-generous')
class GenerousCoordinator extends Coordinator {
  override renew(task: string, epoch: number, progress?: Progress): RenewResult {
    const r = super.renew(task, epoch, progress);
    return r.ok ? { ...r, lease: { ...r.lease, expiresAt: r.lease.expiresAt + 200 } } : r;
  }
}

/** Forgets the checkpoint when it elects a coordinator. */
@StateMachine('coordinator-forgetful')
class ForgetfulCoordinator extends Coordinator {
  override campaign(task: string, candidate: string): CampaignResult {
    const r = super.campaign(task, candidate);
    return r.ok && r.status === 'elected' ? { ...r, checkpoint: null } : r;
  }
}

describe('coordinator safety checker - broken machines on SimCluster', () => {
  const broken = async (machine: () => Coordinator): Promise<string[]> => {
    const found: string[] = [];
    for (let seed = 1; seed <= 4 && found.length === 0; seed++) {
      found.push(...(await runCoordinatorSeed(seed, { machine, durationMs: 4000 })).violations);
    }
    return found;
  };
  const options = { historyLimit: 100_000 };

  it('catches stale writes applied by a machine that does not fence', async () => {
    expect(await broken(() => new UnfencedCoordinator(options))).toContainEqual(
      expect.stringMatching(/'s act under epoch \d+ .* succeeded outside the tenure/),
    );
  }, 120_000);

  it('catches two coordinators at once when a campaign takes a held task', async () => {
    expect(await broken(() => new StealingCoordinator(options))).toContainEqual(
      expect.stringMatching(/ended \(overridden\) by a campaign command/),
    );
  }, 120_000);

  it('catches a lease promised longer than it holds', async () => {
    expect(await broken(() => new GenerousCoordinator(options))).toContainEqual(
      expect.stringMatching(/was told its lease runs to \d+, but it ended at \d+/),
    );
  }, 120_000);

  it('catches a new coordinator that does not receive the last checkpoint', async () => {
    expect(await broken(() => new ForgetfulCoordinator(options))).toContainEqual(
      expect.stringMatching(/was elected \(epoch \d+\) with checkpoint none, the last was \d+/),
    );
  }, 120_000);
});
