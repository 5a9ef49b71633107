/**
 * An agent process: one CoordinatorAgent working on one task in steps,
 * printing what happens as JSON lines on stdout (the process tests, the
 * handoff example and the benchmark read them).
 *
 *   node -r scripts/ts-register.js services/coordinator/scripts/agent-process.ts <candidate>
 *
 * Environment: NATS_URL, RAFT_CLUSTER, COORD_GROUP (coord), COORD_TASK (job),
 * COORD_LEASE_MS (2000), COORD_RENEW_MS (lease / 4), COORD_STEP_MS (300: the
 * work of one step), COORD_STEPS (0: no end; else the task is done, and the
 * agent resigns, once it holds the task with that step done), COORD_HOLD (1:
 * connect, print 'loaded' and wait for SIGUSR2 before campaigning).
 *
 * A step is the pattern fencing exists for: the agent takes its epoch as the
 * fencing token, works (COORD_STEP_MS), then writes the step's result with
 * that token (act on resource `progress`) and checkpoints it. A process
 * paused in between writes with a token that may have ended: the replicas
 * judge it, not the agent. A new coordinator continues from the step of the
 * checkpoint it inherited.
 *
 * Lines (t is Date.now()): loaded, ready, elected {epoch, deadline, from}, renewed
 * {epoch, deadline}, lost {epoch, reason}, begin {epoch, step}, write
 * {epoch, step, ok, at?, index?, error?}, checkpoint {epoch, step, seq}, done
 * {epoch, step}.
 */
import 'reflect-metadata';
import { connectClient, connectNats } from '@raftline/transport-nats';
import { CoordinatorAgent, isRefusal, type Coordinator } from '../src';

const candidate = process.argv[2] ?? 'agent';
const env = process.env;
const cluster = env.RAFT_CLUSTER ?? 'demo';
const group = env.COORD_GROUP ?? 'coord';
const task = env.COORD_TASK ?? 'job';
const leaseMs = Number(env.COORD_LEASE_MS ?? 2000);
const renewEveryMs = env.COORD_RENEW_MS ? Number(env.COORD_RENEW_MS) : undefined;
const stepMs = Number(env.COORD_STEP_MS ?? 300);
const steps = Number(env.COORD_STEPS ?? 0);

function say(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ event, candidate, t: Date.now(), ...fields })}\n`);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The step a checkpoint's state records (0 for none). */
function stepOf(state: string | Uint8Array | undefined): number {
  if (typeof state !== 'string') return 0;
  return (JSON.parse(state) as { step: number }).step;
}

async function main(): Promise<void> {
  const nc = await connectNats({ servers: env.NATS_URL ?? '127.0.0.1:4222' });
  const client = await connectClient<Coordinator>({ connection: nc, cluster, group, timeoutMs: 5000 });
  const agent = new CoordinatorAgent({
    connection: nc,
    cluster,
    group,
    task,
    candidate,
    leaseMs,
    renewEveryMs,
  });
  let step = 0;
  let wake: (() => void) | null = null;
  agent.on('elected', (e) => {
    step = stepOf(e.checkpoint?.state);
    say('elected', {
      epoch: e.epoch,
      deadline: e.deadline,
      from: e.checkpoint && { by: e.checkpoint.by, epoch: e.checkpoint.epoch, seq: e.checkpoint.seq, step },
    });
    wake?.();
  });
  agent.on('renewed', (e) => say('renewed', { epoch: e.epoch, deadline: e.deadline }));
  agent.on('lost', (e) => say('lost', { epoch: e.epoch, reason: e.reason, error: e.refusal?.error }));
  agent.on('error', () => undefined); // a failed campaign: the next period tries again

  process.once('SIGTERM', () => {
    void agent.close().finally(() => {
      client.close();
      void nc.close().finally(() => process.exit(0));
    });
  });

  if (env.COORD_HOLD === '1') {
    // loaded and connected; start campaigning only when told (SIGUSR2), so several agents start in a known order
    const alive = setInterval(() => undefined, 1000); // a signal listener alone keeps no process alive
    const released = new Promise((resolve) => process.once('SIGUSR2', resolve)); // before 'loaded' is seen
    say('loaded', { pid: process.pid });
    await released;
    clearInterval(alive);
  }
  for (let attempt = 1; ; attempt++) {
    try {
      await agent.start(); // registers: its client's timeout is renewEveryMs, short under load
      break;
    } catch (err) {
      if (attempt >= 10) throw err;
      await sleep(200);
    }
  }
  say('ready', { pid: process.pid });
  for (;;) {
    if (steps > 0 && step >= steps && agent.isCoordinator()) {
      say('done', { epoch: agent.epoch, step });
      break;
    }
    const epoch = agent.epoch; // the fencing token for this step
    if (epoch === null) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 250);
      });
      wake = null;
      continue;
    }
    const next = step + 1;
    say('begin', { epoch, step: next });
    await sleep(stepMs); // the work; a pause here outlives the lease
    const wrote = await client.commands
      .act(task, epoch, 'progress', { op: 'set', value: { step: next, by: candidate } })
      .catch((err: unknown) => ({ ok: false as const, error: (err as Error).name }));
    say('write', {
      epoch,
      step: next,
      ok: wrote.ok,
      ...(wrote.ok ? { at: wrote.at, index: wrote.index } : { error: wrote.error }),
    });
    if (!wrote.ok) {
      // refused: this epoch is likely over; let the next renewal tell before another step
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.floor(leaseMs / 4));
        agent.once('lost', () => (clearTimeout(timer), resolve()));
      });
      continue;
    }
    const cp = await client.commands
      .checkpoint(task, epoch, {
        state: JSON.stringify({ step: next }),
        summary: `step ${next} by ${candidate}`,
      })
      .catch(() => null);
    if (cp && !isRefusal(cp)) {
      step = next;
      say('checkpoint', { epoch, step: next, seq: cp.checkpoint.seq });
    }
  }
  await agent.close();
  client.close();
  await nc.close();
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
