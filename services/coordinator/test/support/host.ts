// A Coordinator behind a MachineHost, driven by hand: every command is
// validated (as before replication), encoded and decoded as a log entry,
// and applied at a replicated time the test sets. No cluster, no timers.
import { MachineHost, decodeCommand, encodeCommand } from '@raftline/core';
import { Coordinator, type CoordinatorOptions } from '../../src/index';

export class Machine {
  readonly host: MachineHost;
  /** The replicated time the next command carries. */
  time = 1_000;
  private index = 0;

  constructor(options: CoordinatorOptions = {}) {
    this.host = new MachineHost(new Coordinator(options));
  }

  /**
   * Validates, then applies one command at this.time.
   * @returns the handler's result (a refusal is a result)
   * @throws CommandRejectedError when validation refuses it; the ApplyResult's error when applying fails
   */
  cmd<T = { readonly ok: boolean; readonly [key: string]: unknown }>(name: string, ...args: unknown[]): T {
    this.host.validate({ name, args });
    const envelope = decodeCommand(encodeCommand({ name, args, time: this.time }));
    const r = this.host.apply(envelope, { index: ++this.index, term: 1, time: envelope.time });
    if (!r.ok) throw r.error;
    return r.value as T;
  }

  query<T = unknown>(name: string, ...args: unknown[]): T {
    return this.host.query(name, args) as T;
  }

  advance(ms: number): void {
    this.time += ms;
  }
}
