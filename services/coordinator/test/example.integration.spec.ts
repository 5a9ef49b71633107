import { spawn } from 'node:child_process';
import { join } from 'node:path';

// The worked example (examples/handoff.ts, npm run example:coordinator) runs
// to its end and tells the story it promises: three agent processes, a pause,
// a kill, each successor continuing from the last checkpoint, the paused
// agent's stale write refused, a human's designation. The script checks its
// own claims (exit 1 otherwise); this checks what it printed.

const REPO = join(__dirname, '../../..');

describe('examples/handoff.ts - the worked example as processes', () => {
  it('runs to its end and prints the handoffs, the refused stale write and the override', async () => {
    const proc = spawn(
      process.execPath,
      ['-r', join(REPO, 'scripts/ts-register.js'), join(__dirname, '../examples/handoff.ts')],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RAFT_CLUSTER: `hoex${process.pid}` } },
    );
    let out = '';
    let err = '';
    proc.stdout.on('data', (b: Buffer) => (out += b.toString()));
    proc.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
    if (code !== 0) throw new Error(`exit ${String(code)}\n${out}\n${err}`);

    expect(out).toMatch(/ada is elected: epoch 1, starting afresh/);
    expect(out).toMatch(/ada pauses \(SIGSTOP\) in step (\d+): epoch 1 in hand/);
    expect(out).toMatch(/bob is elected: epoch 2, continuing from ada's checkpoint \(step \d+ done\)/);
    expect(out).toMatch(/bob is killed \(kill -9\) in step \d+/);
    expect(out).toMatch(/cy is elected: epoch 3, continuing from bob's checkpoint/);
    expect(out).toMatch(/ada writes step \d+ with epoch 1: refused by the replicas, StaleEpochError/);
    expect(out).toMatch(/ada is elected: epoch 4, continuing from cy's checkpoint/);
    expect(out).toMatch(
      /history \(without checkpoints\): created:0 granted:1:ada ended:1:ada\(expired\) granted:2:bob ended:2:bob\(expired\) granted:3:cy designated:3:ada ended:3:cy\(overridden\) granted:4:ada/,
    );
    expect(out).toMatch(/every claim above held/);
    // the story is told in order
    const order = [
      'ada is elected',
      'ada pauses',
      'bob is elected',
      'bob is killed',
      'cy is elected',
      'ada wakes up',
      'alice designates ada',
      'ada is elected: epoch 4',
    ];
    const at = order.map((s) => out.indexOf(s));
    expect(at).toEqual([...at].sort((a, b) => a - b));
  }, 240_000);
});
