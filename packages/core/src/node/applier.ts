import type { NodeId, Role } from '../protocol/types';
import type { CommandEnvelope, CommandRequest } from './command';
import type { TickSpec } from './ticks';

/** What a handler sees of the entry it applies: replicated values only, never local ones. */
export interface ApplyContext {
  readonly index: number;
  readonly term: number;
  /** The leader's timestamp for the entry, made non-decreasing along the log. */
  readonly time: number;
}

/**
 * The outcome of applying one command, identical on every replica.
 * `duplicateOf` marks a retry the session layer answered without running the
 * handler again (Raft thesis §6.3): the result is that of the first
 * application, at log index `duplicateOf`. The committed stream reports such
 * an entry as a duplicate, never as applied.
 */
export type ApplyResult =
  | { readonly ok: true; readonly value: unknown; readonly duplicateOf?: number }
  | { readonly ok: false; readonly error: Error; readonly duplicateOf?: number };

/**
 * What RaftNode drives: the user's state machine behind the framework's
 * bookkeeping (dispatch, sessions, snapshots). The state-machine layer
 * implements it; a test can implement it directly.
 */
export interface Applier {
  /**
   * Checks a command before it is replicated (Ratis: reject bad input at the door).
   * @throws CommandRejectedError or UnknownCommandError
   */
  validate(request: CommandRequest): void;
  /**
   * Applies one committed command. Must be deterministic: same state + same
   * entry ⇒ same result and state (duplicateOf and the error's name and
   * message included: the committed stream publishes them).
   */
  apply(command: CommandEnvelope, ctx: ApplyContext): ApplyResult;
  /**
   * Runs a read-only query against local state.
   * @throws UnknownCommandError
   */
  query(name: string, args: readonly unknown[]): unknown;
  /** Serializes the whole state (the machine's and the framework's) as of the last applied entry. */
  snapshot(): Uint8Array;
  /** Replaces the whole state with a snapshot() result. */
  restore(data: Uint8Array): void;
  /**
   * A digest of the whole replicated state as of the last applied entry,
   * for consistency verification (RaftNode.verify()): equal on every
   * replica that applied the same log, whether it restored a snapshot on
   * the way or not. Its form is `scheme:hash`; replicas compare only
   * digests of one scheme, so a new way of hashing takes a new scheme.
   * Optional: without it RaftNode hashes snapshot() ('s1:' and its
   * SHA-256), which is only as canonical as those bytes.
   * @throws what it throws is logged, and that replica records no digest at that index
   */
  digest?(): string;
  /** Called when this node's role or known leader changes. */
  onRoleChange?(role: Role, leaderId: NodeId, term: number): void;
  /**
   * The periodic commands the leader proposes (a machine's @Tick), read
   * once when the node is built: each is proposed with no arguments every
   * everyMs of the node's clock while the node leads (see TickProposer).
   * Optional: without it, or with none, the node proposes nothing by itself.
   */
  ticks?(): readonly TickSpec[];
}
