/**
 * Every named error raftline throws, in one place. Each is a class with a
 * stable `name` and, where another error caused it, a `cause`.
 */

/** Base class: `err instanceof RaftlineError` catches every raftline error. */
export class RaftlineError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A configuration value is missing, out of range or inconsistent; the message names every field involved. */
export class ConfigError extends RaftlineError {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
  }
}

/**
 * The node is not the leader, so it cannot accept a proposal. `leaderId` is the
 * leader it last heard of ('' when it knows none): retry there.
 */
export class NotLeaderError extends RaftlineError {
  constructor(
    readonly nodeId: string,
    readonly leaderId: string,
  ) {
    super(leaderId ? `node ${nodeId} is not the leader; the leader is ${leaderId}` : `node ${nodeId} is not the leader and knows no leader`);
  }
}
