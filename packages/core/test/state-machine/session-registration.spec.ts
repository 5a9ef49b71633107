import { CommandRejectedError, ConfigError, SessionExpiredError } from '../../src/errors';
import type { ApplyResult } from '../../src/node/applier';
import type { CommandEnvelope } from '../../src/node/command';
import { Command, StateMachine } from '../../src/state-machine/decorators';
import { MachineHost, type MachineHostOptions } from '../../src/state-machine/host';
import { ReplicatedStateMachine } from '../../src/state-machine/machine';
import { REGISTER_SESSION, isRegisteredSessionId } from '../../src/state-machine/sessions';
import { KvMachine, at, cmd } from './kv-machine';

/** A host plus a log index that advances with every apply. */
function harness(options: MachineHostOptions = {}) {
  const machine = new KvMachine();
  const host = new MachineHost(machine, options);
  let index = 0;
  const apply = (envelope: CommandEnvelope): ApplyResult => host.apply(envelope, at(++index));
  /** Registers a session at `time` and returns its id. */
  const register = (nonce: string, time = 0): string => {
    const result = apply({ name: REGISTER_SESSION, args: [nonce], time });
    if (!result.ok || typeof result.value !== 'string') throw new Error('registration failed');
    return result.value;
  };
  return { machine, host, apply, register };
}

const incr = (clientId: string, seq: number, time = 0) => cmd('incr', [1], { clientId, seq, time });
const expired = (clientId: string): ApplyResult => ({ ok: false, error: new SessionExpiredError(clientId) });

describe('state machine - registered sessions (thesis §6.3 RegisterClient)', () => {
  it('registration is a replicated command: its result is the session id, $<index>.<nonce>, and the machine never sees it', () => {
    const { machine, host, apply, register } = harness();
    apply(cmd('incr', [1]));
    const id = register('n0nce-1');
    expect(id).toBe('$2.n0nce-1');
    expect(isRegisteredSessionId(id)).toBe(true);
    expect(host.sessionCount).toBe(1);
    expect(machine.counter).toBe(1);
    expect(apply(incr(id, 1))).toEqual({ ok: true, value: 2 });
    expect(apply(incr(id, 1))).toEqual({ ok: true, value: 2, duplicateOf: 3 });
  });

  it('a seq-1 command retried after its registered session expired is refused with SessionExpiredError, never applied twice', () => {
    const { machine, apply, register } = harness({ sessionTtlMs: 10 });
    const id = register('a', 0);
    expect(apply(incr(id, 1, 0))).toEqual({ ok: true, value: 1 });
    apply(cmd('incr', [1], { clientId: 'other', seq: 1, time: 11 })); // replicated time moves on: id expires
    expect(apply(incr(id, 1, 11))).toEqual(expired(id));
    expect(apply(incr(id, 2, 11))).toEqual(expired(id));
    expect(machine.counter).toBe(2); // the first incr, and other's
  });

  it('a registered session evicted by maxSessions refuses its next commands the same way', () => {
    const { machine, apply, register } = harness({ maxSessions: 1 });
    const a = register('a');
    expect(apply(incr(a, 1))).toEqual({ ok: true, value: 1 });
    const b = register('b'); // evicts a
    expect(apply(incr(a, 1))).toEqual(expired(a));
    expect(apply(incr(b, 1))).toEqual({ ok: true, value: 2 });
    expect(machine.counter).toBe(2);
  });

  it('a registered-form id that was never registered is refused at any seq', () => {
    const { machine, apply } = harness();
    expect(apply(incr('$7.forged', 1))).toEqual(expired('$7.forged'));
    expect(machine.counter).toBe(0);
  });

  it('unregistered ids keep the old behaviour: seq 1 opens a session, so it applies again after expiry', () => {
    const { machine, apply } = harness({ sessionTtlMs: 10 });
    apply(incr('legacy', 1, 0));
    apply(incr('other', 1, 11));
    expect(apply(incr('legacy', 1, 11))).toEqual({ ok: true, value: 3 });
    expect(machine.counter).toBe(3);
  });

  it('a registered session survives a snapshot: the restored host deduplicates and refuses as the first one', () => {
    const { host, apply, register } = harness();
    const id = register('snap');
    apply(incr(id, 1));
    const restored = new MachineHost(new KvMachine());
    restored.restore(host.snapshot());
    expect(restored.apply(incr(id, 1), at(10))).toEqual({ ok: true, value: 1, duplicateOf: 2 });
    expect(restored.apply(incr('$9.gone', 1), at(11))).toEqual(expired('$9.gone'));
  });

  it('validation refuses a malformed registration before replication', () => {
    const { host } = harness();
    const refuse = (args: unknown[], session?: { clientId: string; seq: number }) => () =>
      host.validate({ name: REGISTER_SESSION, args, ...(session ? { session } : {}) });
    expect(refuse([])).toThrow(new CommandRejectedError(REGISTER_SESSION, 'args must be [nonce]'));
    expect(refuse(['has space'])).toThrow(
      'args[0] (nonce) must be 1 to 64 characters of A-Z, a-z, 0-9, _ or -',
    );
    expect(refuse(['x'.repeat(65)])).toThrow(CommandRejectedError);
    expect(refuse(['ok'], { clientId: 'c', seq: 1 })).toThrow('a registration carries no session');
    expect(() => host.validate({ name: REGISTER_SESSION, args: ['0b7c-uuid'] })).not.toThrow();
  });

  it('a machine may not declare a handler under the reserved $raftline. prefix', () => {
    @StateMachine('squatter')
    class Squatter extends ReplicatedStateMachine {
      @Command('$raftline.register') grab(): number {
        return 1;
      }
    }
    expect(() => new MachineHost(new Squatter())).toThrow(ConfigError);
    expect(() => new MachineHost(new Squatter())).toThrow(
      'Squatter: handler name $raftline.register uses the reserved prefix $raftline.',
    );
  });
});
