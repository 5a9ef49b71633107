/**
 * The worked example, as processes: three replicas of the coordinator
 * service (`raftline serve`, in-memory logs) over NATS, and three agent
 * processes (scripts/agent-process.ts) sharing one task, worked in fenced
 * steps (take the epoch as the token, work, write with the token, checkpoint).
 *
 *   npm run example:coordinator      (NATS_URL: the machine's NATS by default)
 *
 * ada holds the task and is paused (SIGSTOP) in the middle of a step; bob
 * takes over from her checkpoint and is killed (kill -9) in the middle of
 * one; cy takes over from his; ada wakes up (SIGCONT) and her write with her
 * old epoch is refused; a human (alice) designates ada, who takes the task
 * from cy and finishes it. Prints the story, then the task's history, and
 * exits 1 if any of it did not happen as told.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectClient, connectNats } from '@raftline/transport-nats';
import { type Coordinator, unwrap } from '../src';
import { pauseMidStep, Replicas, release, spawnAgent, type Child } from '../scripts/processes';

const NATS_URL = process.env.NATS_URL ?? '127.0.0.1:4222';
const CLUSTER = process.env.RAFT_CLUSTER ?? `handoff${process.pid}`;
const GROUP = 'coord';
const TASK = 'report';
const LEASE_MS = 2000;
const STEPS = 8;

const say = (text: string): void => console.log(text);
const stepOf = (line: Record<string, unknown>): number => (line.from as { step: number } | null)?.step ?? 0;

/** Tells what an agent's lines say, as they arrive. */
function narrate(name: string, agent: Child): void {
  const tell = (l: Record<string, unknown>): void => {
    if (l.event === 'elected') {
      const from = l.from as { by: string; step: number } | null;
      say(
        `  ${name} is elected: epoch ${String(l.epoch)}` +
          (from ? `, continuing from ${from.by}'s checkpoint (step ${from.step} done)` : ', starting afresh'),
      );
    } else if (l.event === 'checkpoint') {
      say(`    ${name}: step ${String(l.step)} written and checkpointed under epoch ${String(l.epoch)}`);
    } else if (l.event === 'write' && !l.ok) {
      say(
        `  ${name} writes step ${String(l.step)} with epoch ${String(l.epoch)}: refused by the replicas, ${String(l.error)}`,
      );
    } else if (l.event === 'lost' && l.reason !== 'closed') {
      say(`  ${name} stops acting: epoch ${String(l.epoch)} is over (${String(l.reason)})`);
    } else if (l.event === 'done') {
      say(`  ${name} finishes the task at step ${String(l.step)} and resigns`);
    }
  };
  agent.lines.forEach(tell);
  agent.onLine(tell);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'raftline-handoff-'));
  const nc = await connectNats({ servers: NATS_URL });
  const agents: Child[] = [];
  let replicas: Replicas | undefined;
  try {
    replicas = await Replicas.start(
      { cluster: CLUSTER, group: GROUP, dir, natsUrl: NATS_URL, store: 'memory' },
      nc,
    );
    const leader = await replicas.leader();
    say(`3 replicas of the coordinator service run (raftline serve); ${leader.id} leads`);
    const alice = await connectClient<Coordinator>({
      connection: nc,
      cluster: CLUSTER,
      group: GROUP,
      timeoutMs: 10_000,
    });
    unwrap(await alice.commands.createTask(TASK, { leaseMs: LEASE_MS, policy: 'first' }));
    say(
      `alice creates task "${TASK}": ${STEPS} steps, a lease of ${LEASE_MS} ms, the first applicant selected`,
    );

    const settings = {
      natsUrl: NATS_URL,
      cluster: CLUSTER,
      group: GROUP,
      task: TASK,
      leaseMs: LEASE_MS,
      stepMs: 400,
      steps: STEPS,
      hold: true,
    };
    const [ada, bob, cy] = (await Promise.all(['ada', 'bob', 'cy'].map((n) => spawnAgent(n, settings)))) as [
      Child,
      Child,
      Child,
    ];
    agents.push(ada, bob, cy);
    say('ada, bob and cy start (three processes) and campaign, in that order');
    for (const [name, agent] of [
      ['ada', ada],
      ['bob', bob],
      ['cy', cy],
    ] as const) {
      await release(agent);
      narrate(name, agent);
    }
    await ada.waitFor("ada's election", (l) => l.event === 'elected');
    say('  bob and cy wait in line');

    // ada pauses between taking her token and writing with it
    await ada.waitFor('two steps by ada', () => ada.events('checkpoint').length >= 2);
    const paused = await pauseMidStep(ada);
    const pausedAt = Date.now();
    say(
      `ada pauses (SIGSTOP) in step ${String(paused.step)}: epoch ${String(paused.epoch)} in hand, her write not sent`,
    );
    const bobElected = await bob.waitFor("bob's election", (l) => l.event === 'elected');
    say(
      `    (${(bobElected.t as number) - pausedAt} ms after the pause: ada's lease ran out, a tick selected bob)`,
    );
    assert.equal(
      stepOf(bobElected),
      ada.events('checkpoint').at(-1)!.step,
      "bob continues from ada's last checkpoint",
    );
    assert.ok((bobElected.epoch as number) > (paused.epoch as number));

    // bob is killed mid-step
    await bob.waitFor('two steps by bob', () => bob.events('checkpoint').length >= 2);
    const killedIn = await bob.next('begin');
    const killedAt = Date.now();
    await bob.kill9();
    say(`bob is killed (kill -9) in step ${String(killedIn.step)}`);
    const cyElected = await cy.waitFor("cy's election", (l) => l.event === 'elected');
    say(`    (${(cyElected.t as number) - killedAt} ms after the kill)`);
    const bobsLast = bob.events('checkpoint').at(-1)!.step as number;
    assert.ok(
      [bobsLast, bobsLast + 1].includes(stepOf(cyElected)),
      "cy continues from bob's last checkpoint",
    );

    // ada wakes up and writes with her old token
    const from = ada.lines.length;
    say('ada wakes up (SIGCONT) and carries on where she was');
    ada.resume();
    const late = await ada.waitFor("ada's late write", (l) => l.event === 'write', { from });
    assert.equal(late.ok, false, "ada's write with her old epoch is refused");
    assert.equal(late.error, 'StaleEpochError');
    await cy.waitFor('a step by cy', () => cy.events('checkpoint').length >= 1);

    // a human hands the task to a named agent
    const cyBefore = cy.lines.length;
    say('alice designates ada: the task is hers now, whoever holds it');
    unwrap(await alice.commands.designate(TASK, 'ada', 'alice'));
    const adaAgain = await ada.waitFor("ada's election", (l) => l.event === 'elected', { from });
    await cy.waitFor("cy's loss", (l) => l.event === 'lost', { from: cyBefore });
    assert.ok((adaAgain.epoch as number) > (cyElected.epoch as number));
    await ada.waitFor('the end of the task', (l) => l.event === 'done', { timeoutMs: 60_000 });

    const history = (await alice.queries.history(TASK))!.events;
    const told = history
      .filter((e) => e.kind !== 'checkpoint')
      .map(
        (e) =>
          `${e.kind}:${e.epoch}${e.candidate ? `:${e.candidate}` : ''}${e.reason ? `(${e.reason})` : ''}`,
      );
    say(`history (without checkpoints): ${told.join(' ')}`);
    const resource = await alice.queries.resource(TASK, 'progress');
    say(
      `resource "progress": ${JSON.stringify(resource?.value)}, last written under epoch ${String(resource?.epoch)}`,
    );
    assert.deepEqual(resource?.value, { step: STEPS, by: 'ada' });
    alice.close();
    say('every claim above held');
  } finally {
    for (const a of agents) await a.stop();
    await replicas?.stop();
    await nc.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`the example did not go as told: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
